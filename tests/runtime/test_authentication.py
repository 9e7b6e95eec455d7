"""authentication: users, credentials, `requires` on every kind of endpoint."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
    has_required_scope,
    requires,
)
from asgiforge.runtime.endpoints import HTTPEndpoint
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.authentication import AuthenticationMiddleware
from asgiforge.runtime.requests import HTTPConnection, Request
from asgiforge.runtime.responses import JSONResponse, PlainTextResponse, Response
from asgiforge.runtime.routing import Route, WebSocketRoute
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.websockets import WebSocket, WebSocketDisconnect


class BasicAuth(AuthenticationBackend):
    """`Authorization: Basic user:scope1,scope2`; a malformed header is an error."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            raise AuthenticationError("Invalid basic auth credentials")
        username, _, scopes = base64.b64decode(token).decode().partition(":")
        return AuthCredentials(scopes.split(",") if scopes else []), SimpleUser(username)


def auth(user: str, scopes: str = "") -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{scopes}".encode()).decode()}


async def whoami(request: Request) -> Response:
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "name": request.user.display_name,
            "scopes": request.auth.scopes,
        }
    )


@requires("admin")
async def admin_async(request: Request) -> Response:
    return PlainTextResponse("admin")


@requires(["admin", "write"], status_code=404)
def admin_sync(request: Request) -> Response:
    return PlainTextResponse("admin-sync")


@requires("admin", redirect="login")
async def admin_redirect(request: Request) -> Response:
    return PlainTextResponse("admin")


async def login(request: Request) -> Response:
    return PlainTextResponse("login page")


class Dashboard(HTTPEndpoint):
    @requires("admin")
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("dashboard")

    @requires("admin")
    def post(self, request: Request) -> Response:
        return PlainTextResponse("posted")


@requires("chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("welcome")
    await websocket.close()


def on_error(conn: HTTPConnection, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=401)


def make_app(**options: Any) -> App:
    return App(
        routes=[
            Route("/", whoami),
            Route("/admin", admin_async),
            Route("/admin-sync", admin_sync),
            Route("/admin-redirect", admin_redirect),
            Route("/login", login, name="login"),
            Route("/dashboard", Dashboard),
            WebSocketRoute("/chat", chat),
        ],
        middleware=[Middleware(AuthenticationMiddleware, backend=BasicAuth(), **options)],
    )


def test_anonymous_and_authenticated_users() -> None:
    client = TestClient(make_app())
    assert client.get("/").json() == {"authenticated": False, "name": "", "scopes": []}
    assert client.get("/", headers=auth("ada", "read")).json() == {
        "authenticated": True,
        "name": "ada",
        "scopes": ["read"],
    }


def test_requires_async_endpoint() -> None:
    client = TestClient(make_app())
    assert client.get("/admin").status_code == 403
    assert client.get("/admin", headers=auth("ada", "read")).status_code == 403
    assert client.get("/admin", headers=auth("ada", "admin")).text == "admin"


def test_requires_sync_endpoint_with_custom_status() -> None:
    client = TestClient(make_app())
    assert client.get("/admin-sync", headers=auth("ada", "admin")).status_code == 404
    assert client.get("/admin-sync", headers=auth("ada", "admin,write")).text == "admin-sync"


def test_requires_redirect_carries_next() -> None:
    client = TestClient(make_app())
    response = client.get("/admin-redirect?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        "http://testserver/login?next=http%3A%2F%2Ftestserver%2Fadmin-redirect%3Fx%3D1"
    )
    assert client.get("/admin-redirect", headers=auth("ada", "admin")).text == "admin"


def test_requires_on_http_endpoint_methods() -> None:
    client = TestClient(make_app())
    assert client.get("/dashboard").status_code == 403
    assert client.post("/dashboard").status_code == 403
    assert client.get("/dashboard", headers=auth("ada", "admin")).text == "dashboard"
    assert client.post("/dashboard", headers=auth("ada", "admin")).text == "posted"


def test_requires_on_websocket_closes_with_policy_violation() -> None:
    client = TestClient(make_app())
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/chat") as ws:
        ws.receive_text()
    assert info.value.code == 1008
    with client.websocket_connect("/chat", headers=auth("ada", "chat")) as websocket:
        assert websocket.receive_text() == "welcome"


def test_backend_error_uses_default_on_error() -> None:
    response = TestClient(make_app()).get("/", headers={"authorization": "Bearer x"})
    assert (response.status_code, response.text) == (400, "Invalid basic auth credentials")


def test_subclass_can_override_default_on_error() -> None:
    class TeapotOnError(AuthenticationMiddleware):
        @staticmethod
        def default_on_error(conn: HTTPConnection, exc: Exception) -> Response:
            return PlainTextResponse(f"no: {exc}", status_code=418)

    app = App(
        routes=[Route("/", whoami)],
        middleware=[Middleware(TeapotOnError, backend=BasicAuth())],
    )
    response = TestClient(app).get("/", headers={"authorization": "Bearer x"})
    assert (response.status_code, response.text) == (418, "no: Invalid basic auth credentials")
    assert AuthenticationMiddleware.default_on_error(None, ValueError("x")).status_code == 400


def test_backend_error_uses_custom_on_error() -> None:
    response = TestClient(make_app(on_error=on_error)).get("/", headers={"authorization": "Bad"})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid basic auth credentials"}


def test_backend_error_on_websocket_closes_1008() -> None:
    client = TestClient(make_app())
    bad = {"authorization": "Bad"}
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/chat", headers=bad) as ws,
    ):
        ws.receive_text()
    assert info.value.code == 1008


def test_requires_without_request_parameter_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match='"request" or "websocket"'):

        @requires("admin")
        async def endpoint(req: Request) -> Response:  # pragma: no cover - never called
            return PlainTextResponse("")


def test_middleware_refuses_a_non_backend() -> None:
    with pytest.raises(TypeError, match="authenticate"):
        AuthenticationMiddleware(whoami, backend=object())  # type: ignore[arg-type]


def test_user_classes_and_has_required_scope() -> None:
    assert SimpleUser("bob").display_name == "bob"
    assert SimpleUser("bob").is_authenticated is True
    assert UnauthenticatedUser().is_authenticated is False
    with pytest.raises(NotImplementedError):
        _ = BaseUser().identity

    class Conn:
        auth = AuthCredentials(["a", "b"])

    assert has_required_scope(Conn(), ["a"])
    assert has_required_scope(Conn(), [])
    assert not has_required_scope(Conn(), ["a", "c"])
    assert AuthCredentials().scopes == []
