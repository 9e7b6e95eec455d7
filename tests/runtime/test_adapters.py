"""Endpoint adapters: what a function endpoint's Request / WebSocket session does around it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.responses import PlainTextResponse
from asgiforge.runtime.routing import Route, WebSocketRoute
from asgiforge.runtime.testclient import TestClient


def test_sync_endpoint_runs_in_a_worker_thread() -> None:
    main = threading.get_ident()

    def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse(str(threading.get_ident() != main))

    assert TestClient(App(routes=[Route("/", endpoint)])).get("/").text == "True"


def test_websocket_error_closes_with_1011() -> None:
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        raise RuntimeError("boom")

    client = TestClient(App(routes=[WebSocketRoute("/ws", ws)]))
    with pytest.raises(RuntimeError, match="boom"), client.websocket_connect("/ws") as session:
        message = session.receive()
        assert message == {"type": "websocket.close", "code": 1011, "reason": ""}


@pytest.mark.anyio
async def test_inlined_response_sending_matches_response_call() -> None:
    """Differential: `request_response` sends a plain Response itself (one coroutine fewer);
    the messages and the background task must be exactly what `Response.__call__` does."""
    from asgiforge.runtime._adapters import request_response
    from asgiforge.runtime.background import BackgroundTask
    from asgiforge.runtime.responses import HTMLResponse, JSONResponse, Response

    ran: list[str] = []

    def responses() -> list[Response]:
        with_cookie = PlainTextResponse("c", headers={"x-a": "1"})
        with_cookie.set_cookie("k", "v")
        return [
            PlainTextResponse("hello"),
            JSONResponse({"a": [1, 2]}, status_code=201),
            HTMLResponse("<p>x</p>", headers={"cache-control": "no-store"}),
            Response(b"", status_code=204),
            with_cookie,
            PlainTextResponse("bg", background=BackgroundTask(ran.append, "task")),
        ]

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}

    async def receive() -> dict[str, Any]:  # pragma: no cover - never awaited
        return {"type": "http.disconnect"}

    for index, (inlined, direct) in enumerate(zip(responses(), responses(), strict=True)):
        via_adapter: list[Any] = []
        via_call: list[Any] = []

        async def endpoint(request: Any, response: Any = inlined) -> Any:
            return response

        async def send_a(message: Any) -> None:
            via_adapter.append(message)

        async def send_b(message: Any) -> None:
            via_call.append(message)

        await request_response(endpoint)(dict(scope), receive, send_a)
        await direct(dict(scope), receive, send_b)
        assert via_adapter == via_call, index
    assert ran == ["task", "task"]


@pytest.mark.anyio
async def test_the_request_an_endpoint_gets_is_what_request_builds() -> None:
    """The adapter builds the Request without running `Request.__init__` (a frame per request);
    it must hold exactly the state `Request(scope, receive, send)` holds."""
    from asgiforge.runtime._adapters import request_response
    from asgiforge.runtime.requests import Request

    seen: list[Any] = []

    async def endpoint(request: Any) -> PlainTextResponse:
        seen.append(request)
        return PlainTextResponse("ok")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"hi", "more_body": False}

    async def send(message: Any) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    await request_response(endpoint)(scope, receive, send)
    (request,) = seen
    assert type(request) is Request
    assert vars(request) == vars(Request(scope, receive, send))
    assert await request.body() == b"hi"
