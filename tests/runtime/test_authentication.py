"""authentication: users, credentials, `requires` on every kind of endpoint.

The middleware itself is tested in `tests/runtime/middleware/test_authentication.py`.
"""

from __future__ import annotations

from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.authentication import (
    AuthCredentials,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
    has_required_scope,
    requires,
)
from asgiforge.runtime.endpoints import HTTPEndpoint
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import PlainTextResponse, Response
from asgiforge.runtime.routing import Route, WebSocketRoute
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.websockets import WebSocket, WebSocketDisconnect
from tests.runtime._auth_helpers import auth, auth_app, whoami


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


def make_app(**options: Any) -> App:
    return auth_app(
        [
            Route("/", whoami),
            Route("/admin", admin_async),
            Route("/admin-sync", admin_sync),
            Route("/admin-redirect", admin_redirect),
            Route("/login", login, name="login"),
            Route("/dashboard", Dashboard),
            WebSocketRoute("/chat", chat),
        ],
        **options,
    )


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


def test_requires_without_request_parameter_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match='"request" or "websocket"'):

        @requires("admin")
        async def endpoint(req: Request) -> Response:  # pragma: no cover - never called
            return PlainTextResponse("")


def test_user_classes_and_has_required_scope() -> None:
    assert SimpleUser("bob").display_name == "bob"
    assert SimpleUser("bob").is_authenticated is True
    assert UnauthenticatedUser().is_authenticated is False
    assert SimpleUser("bob").identity == "bob"
    assert UnauthenticatedUser().identity == ""
    assert UnauthenticatedUser().display_name == ""
    with pytest.raises(NotImplementedError):
        _ = BaseUser().identity

    class Conn:
        auth = AuthCredentials(["a", "b"])

    assert has_required_scope(Conn(), ["a"])
    assert has_required_scope(Conn(), [])
    assert not has_required_scope(Conn(), ["a", "c"])
    assert AuthCredentials().scopes == []
