"""_exception_handler: which handler answers an error raised inside a route, and when none can."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from asgiforge.runtime._exception_handler import (
    HANDLERS_KEY,
    make_connection,
    wrap_app_handling_exceptions,
)
from asgiforge.runtime.applications import App
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import PlainTextResponse, Response
from asgiforge.runtime.routing import Route
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Message, Receive, Scope, Send
from asgiforge.runtime.websockets import WebSocket


def http_scope(
    exception_handlers: dict[Any, Any] | None = None,
    status_handlers: dict[int, Any] | None = None,
) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        HANDLERS_KEY: (exception_handlers or {}, status_handlers or {}),
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def raising(exc: BaseException, *, start_first: bool = False) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if start_first:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise exc

    return app


async def run(app: Any, scope: Scope) -> list[Message]:
    """Run `app` wrapped for `scope`; return what reached the server."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conn = Request(scope, receive, send)
    await wrap_app_handling_exceptions(app, conn)(scope, receive, send)
    return sent


def answer(text: str) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"{text}: {exc}", status_code=500)

    return handler


def body(sent: list[Message]) -> str:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


@pytest.mark.anyio
async def test_handler_for_a_base_class_catches_subclasses() -> None:
    scope = http_scope({LookupError: answer("lookup")})
    sent = await run(raising(KeyError("k")), scope)
    assert sent[0]["status"] == 500
    assert body(sent) == "lookup: 'k'"


@pytest.mark.anyio
async def test_nearest_class_in_the_mro_wins() -> None:
    # Registration order must not matter: the more distant class is registered first.
    handlers = {
        Exception: answer("exception"),
        LookupError: answer("lookup"),
        KeyError: answer("key"),
    }
    assert body(await run(raising(KeyError("k")), http_scope(handlers))) == "key: 'k'"
    assert body(await run(raising(IndexError("i")), http_scope(handlers))) == "lookup: i"
    assert body(await run(raising(ValueError("v")), http_scope(handlers))) == "exception: v"


@pytest.mark.anyio
async def test_status_handler_beats_class_handler_for_http_exceptions() -> None:
    scope = http_scope({HTTPException: answer("class")}, {404: answer("status")})
    assert body(await run(raising(HTTPException(404, "gone")), scope)) == "status: 404: gone"
    # Another status code falls back to the class handler.
    assert body(await run(raising(HTTPException(409, "clash")), scope)) == "class: 409: clash"


@pytest.mark.anyio
async def test_status_handlers_do_not_apply_to_other_exceptions() -> None:
    class Coded(Exception):
        status_code = 404

    scope = http_scope({Exception: answer("class")}, {404: answer("status")})
    assert body(await run(raising(Coded("c")), scope)) == "class: c"


@pytest.mark.anyio
async def test_no_handler_reraises_the_original_exception() -> None:
    error = ValueError("nobody handles me")
    with pytest.raises(ValueError) as info:
        await run(raising(error), http_scope({KeyError: answer("key")}, {500: answer("status")}))
    assert info.value is error


@pytest.mark.anyio
async def test_handler_after_the_response_started_is_a_clear_error() -> None:
    error = ValueError("late")
    scope = http_scope({ValueError: answer("value")})
    with pytest.raises(RuntimeError, match=r"ValueError.*already started") as info:
        await run(raising(error, start_first=True), scope)
    assert info.value.__cause__ is error


@pytest.mark.anyio
async def test_handled_exception_drops_its_traceback() -> None:
    # One shared instance raised on every request must not pile up (and pin) request frames.
    shared = HTTPException(401, "Unauthorized")
    scope = http_scope({HTTPException: answer("http")})
    assert body(await run(raising(shared), scope)) == "http: 401: Unauthorized"
    assert shared.__traceback__ is None


@pytest.mark.anyio
async def test_unhandled_error_after_the_response_started_is_reraised_as_is() -> None:
    error = ValueError("late")
    with pytest.raises(ValueError) as info:
        await run(raising(error, start_first=True), http_scope({KeyError: answer("key")}))
    assert info.value is error


@pytest.mark.anyio
async def test_sync_handler_runs_in_a_worker_thread() -> None:
    seen: list[int] = []

    def sync_handler(request: Request, exc: Exception) -> Response:
        seen.append(threading.get_ident())
        return PlainTextResponse(f"sync: {exc}", status_code=418)

    sent = await run(raising(ValueError("v")), http_scope({ValueError: sync_handler}))
    assert sent[0]["status"] == 418
    assert body(sent) == "sync: v"
    assert seen and seen[0] != threading.get_ident()


@pytest.mark.anyio
async def test_handler_receives_the_connection_and_the_exception() -> None:
    received: list[Any] = []

    async def handler(request: Request, exc: Exception) -> None:
        received.extend([request, exc])

    scope = http_scope({ValueError: handler})
    error = ValueError("v")
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conn = Request(scope, receive, send)
    await wrap_app_handling_exceptions(raising(error), conn)(scope, receive, send)
    assert received == [conn, error]
    assert sent == []  # a handler returning None sends nothing


@pytest.mark.anyio
async def test_without_registered_handlers_the_app_is_returned_unwrapped() -> None:
    app = raising(ValueError("v"))
    scope = http_scope()
    del scope[HANDLERS_KEY]
    assert wrap_app_handling_exceptions(app, Request(scope, receive)) is app


def test_make_connection_builds_what_the_handler_expects() -> None:
    async def send(message: Message) -> None: ...

    assert isinstance(make_connection(http_scope(), receive, send), Request)
    ws_scope = {**http_scope(), "type": "websocket"}
    assert isinstance(make_connection(ws_scope, receive, send), WebSocket)


def test_app_level_handlers_run_inside_the_route() -> None:
    """Through a real App: the route raises, the MRO-nearest and status handlers answer."""

    async def missing(request: Request) -> Response:
        raise KeyError("user 7")

    async def gone(request: Request) -> Response:
        raise HTTPException(410)

    async def on_lookup(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"lookup {request.url.path}", status_code=404)

    def on_key(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"key {request.url.path}", status_code=404)

    async def on_410(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("status 410", status_code=410)

    async def on_http(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("class", status_code=500)

    app = App(
        routes=[Route("/missing", missing), Route("/gone", gone)],
        exception_handlers={
            LookupError: on_lookup,
            KeyError: on_key,
            410: on_410,
            HTTPException: on_http,
        },
    )
    client = TestClient(app)
    response = client.get("/missing")
    assert (response.status_code, response.text) == (404, "key /missing")
    response = client.get("/gone")
    assert (response.status_code, response.text) == (410, "status 410")


def test_send_tracker_costs_no_coroutine_and_marks_the_start() -> None:
    """It hands back the wrapped send's awaitable itself (no coroutine of its own per message)."""
    import inspect

    from asgiforge.runtime._exception_handler import SendTracker

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    tracker = SendTracker(send)
    body = tracker({"type": "http.response.body", "body": b""})
    assert inspect.getcoroutinestate(body) == inspect.CORO_CREATED  # type: ignore[arg-type]
    assert body.cr_code is send.__code__  # type: ignore[attr-defined]
    body.close()  # type: ignore[attr-defined]
    assert tracker.started is False
    start = tracker({"type": "http.response.start", "status": 200, "headers": []})
    assert tracker.started is True
    start.close()  # type: ignore[attr-defined]
