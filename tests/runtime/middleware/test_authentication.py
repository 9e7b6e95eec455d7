"""AuthenticationMiddleware: who the endpoint sees, and what a failing backend answers."""

from __future__ import annotations

from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.authentication import AuthenticationMiddleware
from asgiforge.runtime.requests import HTTPConnection
from asgiforge.runtime.responses import PlainTextResponse, Response
from asgiforge.runtime.routing import Route, WebSocketRoute
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.websockets import WebSocket, WebSocketDisconnect
from tests.runtime._auth_helpers import BasicAuth, auth, auth_app, on_error, whoami


async def chat(websocket: WebSocket) -> None:
    # No `requires` here: a 1008 close can only come from the middleware.
    await websocket.accept()
    await websocket.send_text("welcome")
    await websocket.close()


def make_app(**options: Any) -> App:
    return auth_app([Route("/", whoami), WebSocketRoute("/chat", chat)], **options)


def test_anonymous_and_authenticated_users() -> None:
    client = TestClient(make_app())
    assert client.get("/").json() == {"authenticated": False, "name": "", "scopes": []}
    assert client.get("/", headers=auth("ada", "read")).json() == {
        "authenticated": True,
        "name": "ada",
        "scopes": ["read"],
    }


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


def test_middleware_refuses_a_non_backend() -> None:
    with pytest.raises(TypeError, match="authenticate"):
        AuthenticationMiddleware(whoami, backend=object())  # type: ignore[arg-type]
