"""_error_boundary: an App without user middleware runs its two default layers as one, and
behaves exactly as ServerErrorMiddleware(ExceptionMiddleware(router)) would."""

from __future__ import annotations

from typing import Any

import pytest

from asgiforge.runtime._error_boundary import ErrorBoundary
from asgiforge.runtime.applications import App
from asgiforge.runtime.exceptions import HTTPException, WebSocketException
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.errors import ServerErrorMiddleware
from asgiforge.runtime.middleware.exceptions import ExceptionMiddleware
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import PlainTextResponse, Response
from asgiforge.runtime.routing import Route, WebSocketRoute
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Receive, Scope, Send
from asgiforge.runtime.websockets import WebSocket, WebSocketDisconnect


class Teapot(Exception):
    pass


async def teapot(request: Request) -> Response:
    raise Teapot


async def missing(request: Request) -> Response:
    raise HTTPException(404, detail="no such thing")


async def crash(request: Request) -> Response:
    raise ValueError("boom")


class CrashAfterStart:
    """A raw ASGI app (not a function, so the route does not adapt it)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ValueError("too late")


async def ws_refused(websocket: WebSocket) -> None:
    raise WebSocketException(code=4003, reason="not you")


async def ws_crash(websocket: WebSocket) -> None:
    await websocket.accept()
    raise ValueError("boom")


def on_teapot(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("short and stout", status_code=418)


def make_app(**kwargs: Any) -> App:
    routes = [
        Route("/teapot", teapot),
        Route("/missing", missing),
        Route("/crash", crash),
        Route("/late", CrashAfterStart()),
        WebSocketRoute("/ws-refused", ws_refused),
        WebSocketRoute("/ws-crash", ws_crash),
    ]
    return App(routes=routes, exception_handlers={Teapot: on_teapot}, **kwargs)


class PassThrough:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def test_default_stack_is_one_boundary_that_still_looks_like_both_layers() -> None:
    app = make_app()
    stack: Any = app.build_middleware_stack()
    assert type(stack) is ErrorBoundary
    assert isinstance(stack, ServerErrorMiddleware)
    assert isinstance(stack.app, ExceptionMiddleware)
    assert stack.app.app == app.router.middleware_stack


@pytest.mark.parametrize(
    "kwargs", [{"middleware": [Middleware(PassThrough)]}, {"max_body_size": 10}]
)
def test_anything_between_the_default_layers_keeps_them_apart(kwargs: dict[str, Any]) -> None:
    stack: Any = make_app(**kwargs).build_middleware_stack()
    assert type(stack) is ServerErrorMiddleware
    assert not isinstance(stack, ErrorBoundary)


@pytest.mark.parametrize("fused", [True, False])
def test_http_errors_are_answered_the_same_with_or_without_fusion(fused: bool) -> None:
    app = make_app() if fused else make_app(middleware=[Middleware(PassThrough)])
    client = TestClient(app, raise_server_exceptions=False)
    assert (client.get("/teapot").status_code, client.get("/teapot").text) == (
        418,
        "short and stout",
    )
    assert (client.get("/missing").status_code, client.get("/missing").text) == (
        404,
        "no such thing",
    )
    assert client.get("/nowhere").status_code == 404
    assert (client.get("/crash").status_code, client.get("/crash").text) == (
        500,
        "Internal Server Error",
    )
    with pytest.raises(ValueError, match="boom"):
        TestClient(app).get("/crash")


def test_error_after_the_response_started_is_reraised_without_a_second_response() -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    response = client.get("/late")
    assert response.status_code == 200
    with pytest.raises(ValueError, match="too late"):
        TestClient(make_app()).get("/late")


def test_server_error_handler_and_debug_page_still_apply() -> None:
    def on_error(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"handled {type(exc).__name__}", status_code=500)

    app = App(routes=[Route("/crash", crash)], exception_handlers={500: on_error})
    assert TestClient(app, raise_server_exceptions=False).get("/crash").text == (
        "handled ValueError"
    )
    debug = make_app(debug=True)
    text = TestClient(debug, raise_server_exceptions=False).get("/crash").text
    assert "ValueError: boom" in text


@pytest.mark.parametrize("fused", [True, False])
def test_websocket_errors_are_answered_the_same_with_or_without_fusion(fused: bool) -> None:
    app = make_app() if fused else make_app(middleware=[Middleware(PassThrough)])
    client = TestClient(app)
    refusing = client.websocket_connect("/ws-refused")
    with pytest.raises(WebSocketDisconnect) as refused, refusing as ws:
        ws.receive_text()
    assert (refused.value.code, refused.value.reason) == (4003, "not you")
    with pytest.raises(WebSocketDisconnect) as crashed, client.websocket_connect("/ws-crash") as ws:
        ws.receive_text()
    assert crashed.value.code == 1011


def test_lifespan_passes_through_the_boundary() -> None:
    started: list[str] = []

    async def lifespan(app: App) -> Any:
        started.append("up")
        yield

    from contextlib import asynccontextmanager

    app = App(lifespan=asynccontextmanager(lifespan))
    with TestClient(app):
        assert started == ["up"]
