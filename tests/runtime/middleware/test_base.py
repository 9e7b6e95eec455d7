"""BaseHTTPMiddleware: dispatch/call_next semantics users rely on, incl. the seed's example."""

from __future__ import annotations

import contextvars
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.background import BackgroundTask
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import PlainTextResponse, Response, StreamingResponse
from asgiforge.runtime.routing import Route
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Message, Receive, Scope, Send


# The seed's example, with only the imports changed.
class TimingMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - start
        response.headers["X-Process-Time"] = f"{elapsed:.4f}"
        return response


async def homepage(request: Request) -> Response:
    return PlainTextResponse("home")


def test_seed_timing_middleware_adds_header() -> None:
    app = App(routes=[Route("/", homepage)], middleware=[Middleware(TimingMiddleware)])
    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == 200
    assert response.text == "home"
    assert float(response.headers["x-process-time"]) >= 0


def test_dispatch_argument_and_short_circuit() -> None:
    async def deny(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path == "/blocked":
            return PlainTextResponse("no", status_code=403)
        return await call_next(request)

    app = App(
        routes=[Route("/", homepage), Route("/blocked", homepage)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=deny)],
    )
    client = TestClient(app)
    assert client.get("/").text == "home"
    blocked = client.get("/blocked")
    assert (blocked.status_code, blocked.text) == (403, "no")


def test_dispatch_not_overridden_is_a_clear_error() -> None:
    app = App(routes=[Route("/", homepage)], middleware=[Middleware(BaseHTTPMiddleware)])
    with pytest.raises(NotImplementedError, match="dispatch"):
        TestClient(app).get("/")


def test_app_exception_reaches_dispatch() -> None:
    seen: list[str] = []

    async def boom(request: Request) -> Response:
        raise ValueError("kaput")

    async def catcher(request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            return await call_next(request)
        except ValueError as exc:
            seen.append(str(exc))
            return PlainTextResponse("recovered", status_code=502)

    app = App(
        routes=[Route("/", boom)], middleware=[Middleware(BaseHTTPMiddleware, dispatch=catcher)]
    )
    response = TestClient(app).get("/")
    assert (response.status_code, response.text) == (502, "recovered")
    assert seen == ["kaput"]


def test_uncaught_app_exception_propagates_unwrapped() -> None:
    async def boom(request: Request) -> Response:
        raise ValueError("kaput")

    class Passthrough(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            return await call_next(request)

    app = App(routes=[Route("/", boom)], middleware=[Middleware(Passthrough)])
    with pytest.raises(ValueError, match="kaput"):
        TestClient(app).get("/")
    assert TestClient(app, raise_server_exceptions=False).get("/").status_code == 500


def test_background_task_runs_to_completion() -> None:
    done: list[str] = []

    async def slow_task() -> None:
        await anyio.sleep(0.05)
        done.append("task")

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("ok", background=BackgroundTask(slow_task))

    class Passthrough(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            return await call_next(request)

    app = App(routes=[Route("/", endpoint)], middleware=[Middleware(Passthrough)])
    assert TestClient(app).get("/").text == "ok"
    assert done == ["task"]


request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def test_contextvar_set_in_endpoint_stays_in_the_app_task() -> None:
    # As in Starlette (its suite marks the opposite as a known failure): the app runs in its
    # own task, whose context changes do not flow back into dispatch.
    seen: list[str] = []

    async def endpoint(request: Request) -> Response:
        request_id.set("abc")
        return PlainTextResponse("ok")

    class Reader(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            response = await call_next(request)
            seen.append(request_id.get())
            return response

    app = App(routes=[Route("/", endpoint)], middleware=[Middleware(Reader)])
    TestClient(app).get("/")
    assert seen == ["unset"]


def test_contextvar_set_in_dispatch_is_visible_in_endpoint() -> None:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(request_id.get())

    class Setter(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            request_id.set("from-dispatch")
            return await call_next(request)

    app = App(routes=[Route("/", endpoint)], middleware=[Middleware(Setter)])
    assert TestClient(app).get("/").text == "from-dispatch"


def test_body_read_in_dispatch_is_still_available_to_endpoint() -> None:
    async def echo(request: Request) -> Response:
        return Response(await request.body())

    class Reader(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            body = await request.body()
            response = await call_next(request)
            response.headers["x-seen"] = str(len(body))
            return response

    app = App(routes=[Route("/", echo, methods=["POST"])], middleware=[Middleware(Reader)])
    response = TestClient(app).post("/", content=b"payload")
    assert response.content == b"payload"
    assert response.headers["x-seen"] == "7"


def test_websocket_and_lifespan_pass_through() -> None:
    events: list[str] = []

    class Passthrough(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            events.append("dispatch")
            return await call_next(request)

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        events.append(scope["type"])

    async def receive() -> Message:
        return {}

    async def send(message: Message) -> None:
        pass

    anyio.run(Passthrough(inner), {"type": "websocket"}, receive, send)
    anyio.run(Passthrough(inner), {"type": "lifespan"}, receive, send)
    assert events == ["websocket", "lifespan"]


# --- Streaming, driven at the ASGI level so chunk timing is observable -------------------


def _scope() -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }


class Passthrough(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-mw"] = "1"
        return response


@pytest.mark.anyio
async def test_streaming_response_is_not_buffered() -> None:
    release = anyio.Event()
    sent: list[Message] = []
    first_chunk_seen = anyio.Event()

    async def gen() -> AsyncIterator[bytes]:
        yield b"first"
        await release.wait()  # the second chunk only exists after the client saw the first
        yield b"second"

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(gen())

    app = Passthrough(App(routes=[Route("/", endpoint)]))

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)
        if message.get("body") == b"first":
            first_chunk_seen.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(app, _scope(), receive, send)
            await first_chunk_seen.wait()
            assert sent[0]["type"] == "http.response.start"
            assert (b"x-mw", b"1") in sent[0]["headers"]
            release.set()
    bodies = [m.get("body", b"") for m in sent[1:]]
    assert b"".join(bodies) == b"firstsecond"
    assert sent[-1]["more_body"] is False


@pytest.mark.anyio
async def test_client_disconnect_ends_the_chain_cleanly() -> None:
    produced = 0
    closed = anyio.Event()

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        try:
            while True:
                produced += 1
                yield b"tick"
                await anyio.sleep(0)
        finally:
            closed.set()

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(endless())

    app = Passthrough(App(routes=[Route("/", endpoint)]))
    count = 0

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        nonlocal count
        count += 1
        if count > 3:  # the client has gone: ASGI 2.4 servers raise OSError from send
            raise OSError("client disconnected")

    with anyio.fail_after(5):
        await app(_scope(), receive, send)  # returns, and raises nothing
        await closed.wait()
    assert produced < 50


@pytest.mark.anyio
async def test_dispatch_returning_other_response_does_not_hang() -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x"
            await anyio.sleep(0)

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(endless())

    class Replace(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Any:
            await call_next(request)
            return PlainTextResponse("replaced")

    app = Replace(App(routes=[Route("/", endpoint)]))
    sent: list[Message] = []

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(_scope(), receive, send)
    assert sent[-1]["body"] == b"replaced"


@pytest.mark.anyio
async def test_cancelling_the_request_cancels_the_app_and_waits_for_it() -> None:
    """Like a task group: the app task is cancelled with the request, and has cleaned up by the
    time the middleware returns."""
    state: list[str] = []

    async def stuck(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            state.append("app cleaned up")

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    with anyio.fail_after(5):
        with anyio.move_on_after(0.05) as scope:
            await Passthrough(stuck)(_scope(), receive, send)
        assert scope.cancelled_caught
        assert state == ["app cleaned up"]
        await anyio.sleep(0.01)  # and the calling task is not left cancelled


@pytest.mark.anyio
async def test_many_requests_leave_no_task_behind() -> None:
    app = Passthrough(App(routes=[Route("/", homepage)]))

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    bodies: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message.get("body", b""))

    def live_tasks() -> int:
        if anyio_backend_name() != "asyncio":
            return 0
        import asyncio

        return len(asyncio.all_tasks())

    before = live_tasks()
    with anyio.fail_after(10):
        for _ in range(200):
            await app(_scope(), receive, send)
    assert len([b for b in bodies if b]) == 200
    await anyio.sleep(0)
    assert live_tasks() == before


@pytest.mark.anyio
async def test_background_task_runs_after_the_client_has_the_response() -> None:
    events: list[str] = []

    async def note() -> None:
        events.append("background")

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("hi", background=BackgroundTask(note))

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        await anyio.sleep(0.01)  # a slow client: the app must not run ahead of it
        events.append(message["type"])

    await Passthrough(App(routes=[Route("/", endpoint)]))(_scope(), receive, send)
    assert events == [
        "http.response.start",
        "http.response.body",
        "http.response.body",
        "background",
    ]


def test_background_task_error_still_propagates() -> None:
    async def fail() -> None:
        raise ValueError("in background")

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("hi", background=BackgroundTask(fail))

    client = TestClient(Passthrough(App(routes=[Route("/", endpoint)])))
    with pytest.raises(ValueError, match="in background"):
        client.get("/")


@pytest.mark.anyio
@pytest.mark.parametrize("body", [b"", b"hello"])
async def test_a_disconnect_is_seen_once_and_shared_with_dispatch(body: bytes) -> None:
    # The server sends http.disconnect once; asking again must not wait for another one,
    # and `request.is_disconnected()` in dispatch must know about it.
    messages: list[Message] = [{"type": "http.request", "body": body}, {"type": "http.disconnect"}]
    seen: list[str] = []

    async def receive() -> Message:
        if not messages:
            raise AssertionError("receive called after the disconnect: it would hang")
        return messages.pop(0)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(3):
            message = await receive()
            while message["type"] == "http.request":
                message = await receive()
            seen.append(message["type"])
        await PlainTextResponse("ok")(scope, receive, send)

    class Check(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Any:
            response = await call_next(request)
            assert await request.is_disconnected()
            return response

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await Check(app)(_scope(), receive, send)
    assert seen == ["http.disconnect"] * 3
    assert sent[0]["status"] == 200


@pytest.mark.anyio
async def test_early_hints_and_pathsend_pass_through(tmp_path: Any) -> None:
    path = tmp_path / "f.txt"
    path.write_text("file")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await Request(scope, receive, send).send_early_hints("</app.css>; rel=preload")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": str(path)})

    class Hints(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Any:
            await request.send_early_hints("</mw.css>; rel=preload")
            return await call_next(request)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        raise AssertionError("not read")

    scope = _scope()
    scope["extensions"] = {"http.response.early_hint": {}, "http.response.pathsend": {}}
    await Hints(app)(scope, receive, send)
    assert [m["type"] for m in sent] == [
        "http.response.early_hint",
        "http.response.early_hint",
        "http.response.start",
        "http.response.pathsend",
    ]
    assert [m["links"] for m in sent[:2]] == [
        [b"</mw.css>; rel=preload"],
        [b"</app.css>; rel=preload"],
    ]


def anyio_backend_name() -> str:
    import sniffio

    return sniffio.current_async_library()


def test_app_error_from_call_next_turns_its_context_into_the_cause() -> None:
    def with_context(request: Request) -> Response:
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("outer")  # the implicit context is the point

    def bare(request: Request) -> Response:
        raise ValueError("bare")

    app = App(
        routes=[Route("/ctx", with_context), Route("/bare", bare)],
        middleware=[Middleware(Passthrough)],
    )
    client = TestClient(app)
    with pytest.raises(ValueError, match="outer") as caught:
        client.get("/ctx")
    assert isinstance(caught.value.__cause__, KeyError)
    with pytest.raises(ValueError, match="bare") as caught:
        client.get("/bare")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.anyio
async def test_debug_info_before_the_start_is_relayed() -> None:
    # TemplateResponse's `http.response.debug` message: how a TestClient exposes
    # `response.template` and `response.context`, with BaseHTTPMiddleware in between.
    info = {"template": "index.html", "context": {"x": 1}}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.debug", "info": info})
        await PlainTextResponse("ok")(scope, receive, send)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        raise AssertionError("not read")

    await Passthrough(app)(_scope(), receive, send)
    assert sent[0] == {"type": "http.response.debug", "info": info}
    assert sent[1]["type"] == "http.response.start"
