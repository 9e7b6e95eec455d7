"""TestClient against bare ASGI callables: what a test author sees, with no other runtime module."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from asgiforge.runtime.testclient import (
    AsyncClient,
    TestClient,
    WebSocketDenialResponse,
)
from asgiforge.runtime.types import Message, Receive, Scope, Send
from asgiforge.runtime.websockets import WebSocketDisconnect


async def read_body(receive: Receive) -> tuple[bytes, int]:
    body, messages = b"", 0
    while True:
        message = await receive()
        messages += 1
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body, messages


async def respond(send: Send, body: bytes, status: int = 200, headers: Any = ()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


async def echo_scope(scope: Scope, receive: Receive, send: Send) -> None:
    import json

    if scope["type"] != "http":
        return
    body, _ = await read_body(receive)
    data = {
        k: scope[k]
        for k in ("method", "path", "root_path", "scheme", "http_version", "client", "server")
    }
    data["raw_path"] = scope["raw_path"].decode()
    data["query_string"] = scope["query_string"].decode()
    data["headers"] = {k.decode(): v.decode() for k, v in scope["headers"]}
    data["body"] = body.decode()
    await respond(send, json.dumps(data).encode(), headers=[(b"content-type", b"application/json")])


# -- HTTP ---------------------------------------------------------------------------------------


def test_scope_looks_like_a_server_built_it() -> None:
    client = TestClient(echo_scope)
    data = client.get("/a%20b/c?x=1&y=%20").json()
    assert data["method"] == "GET"
    assert data["path"] == "/a b/c"
    assert data["raw_path"] == "/a%20b/c"
    assert data["query_string"] == "x=1&y=%20"
    assert data["scheme"] == "http"
    assert data["http_version"] == "1.1"
    assert data["client"] == ["testclient", 50000]
    assert data["server"] == ["testserver", 80]
    assert data["root_path"] == ""
    assert data["headers"]["host"] == "testserver"
    assert data["headers"]["user-agent"] == "testclient"


def test_base_url_root_path_client_and_headers() -> None:
    client = TestClient(
        echo_scope,
        base_url="https://example.org:8443/api",
        root_path="/api",
        client=("10.0.0.1", 1234),
        headers={"x-token": "t"},
    )
    data = client.get("/items").json()
    assert data["scheme"] == "https"
    assert data["server"] == ["example.org", 8443]
    assert data["path"] == "/api/items"
    assert data["root_path"] == "/api"
    assert data["client"] == ["10.0.0.1", 1234]
    assert data["headers"]["x-token"] == "t"
    assert data["headers"]["host"] == "example.org:8443"


def test_request_body_in_memory_arrives_as_one_message() -> None:
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body, messages = await read_body(receive)
        seen.append(messages)
        await respond(send, body)

    response = TestClient(app).post("/", content=b"hello")
    assert response.text == "hello"
    assert seen == [1]


def test_streaming_request_body_arrives_chunk_by_chunk() -> None:
    chunks: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message.get("body"):
                chunks.append(message["body"])
            if not message.get("more_body", False):
                break
        await respond(send, b"|".join(chunks))

    def body() -> Iterator[bytes]:
        yield b"one"
        yield b"two"
        yield b"three"

    response = TestClient(app).post("/", content=body())
    assert response.text == "one|two|three"
    assert chunks == [b"one", b"two", b"three"]


def test_response_streams_chunk_by_chunk() -> None:
    """The second chunk is only produced after the client has seen the first."""
    first_seen = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        seen = await anyio.to_thread.run_sync(first_seen.wait, 5.0)
        await send({"type": "http.response.body", "body": b"after" if seen else b"timeout"})

    with TestClient(app).stream("GET", "/") as response:
        chunks = response.iter_bytes()
        assert next(chunks) == b"first;"
        first_seen.set()
        assert b"".join(chunks) == b"after"


def test_abandoned_stream_cancels_the_app() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            for _ in range(10_000):
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
                await anyio.sleep(0.001)
            events.append("ran to the end")
        finally:
            events.append("finished")

    with TestClient(app).stream("GET", "/") as response:
        assert next(response.iter_bytes()) == b"x"
    assert events == ["finished"]


def test_get_waits_for_work_after_the_body() -> None:
    """Like a background task: done by the time the test looks."""
    done: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, b"ok")
        await anyio.sleep(0.01)
        done.append(True)

    assert TestClient(app).get("/").text == "ok"
    assert done == [True]


def test_disconnect_is_reported_once_the_response_is_sent() -> None:
    messages: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        await respond(send, b"ok")
        with anyio.fail_after(5):
            messages.append((await receive())["type"])

    assert TestClient(app).get("/").text == "ok"
    assert messages == ["http.disconnect"]


def test_head_drops_the_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, b"body", headers=[(b"content-length", b"4")])

    response = TestClient(app).head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == "4"
    assert response.content == b""


class Boom(Exception):
    pass


async def crash_before_response(scope: Scope, receive: Receive, send: Send) -> None:
    raise Boom("before")


async def crash_after_response(scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, b"sent")
    raise Boom("after")


def test_server_exceptions_are_raised_by_default() -> None:
    with pytest.raises(Boom, match="before"):
        TestClient(crash_before_response).get("/")
    with pytest.raises(Boom, match="after"):
        TestClient(crash_after_response).get("/")


def test_server_exceptions_become_500_when_asked() -> None:
    client = TestClient(crash_before_response, raise_server_exceptions=False)
    assert client.get("/").status_code == 500
    client = TestClient(crash_after_response, raise_server_exceptions=False)
    response = client.get("/")
    assert (response.status_code, response.text) == (200, "sent")


def test_app_returning_without_a_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    with pytest.raises(AssertionError, match="TestClient did not receive any response"):
        TestClient(app).get("/")
    assert TestClient(app, raise_server_exceptions=False).get("/").status_code == 500


def test_cookies_round_trip() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        if scope["path"] == "/set":
            await respond(send, b"", headers=[(b"set-cookie", b"session=abc; Path=/")])
        else:
            await respond(send, headers.get(b"cookie", b""))

    client = TestClient(app, cookies={"initial": "1"})
    assert client.get("/read").text == "initial=1"
    client.get("/set")
    assert set(client.get("/read").text.split("; ")) == {"initial=1", "session=abc"}


def test_redirects_are_followed_by_default() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/old":
            await respond(send, b"", status=307, headers=[(b"location", b"/new")])
        else:
            await respond(send, scope["path"].encode())

    assert TestClient(app).get("/old").text == "/new"
    assert TestClient(app, follow_redirects=False).get("/old").status_code == 307


def test_debug_message_exposes_template_and_context() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "http.response.debug" in scope["extensions"]
        info = {"template": "index.html", "context": {"x": 1}}
        await send({"type": "http.response.debug", "info": info})
        await respond(send, b"page")

    response = TestClient(app).get("/")
    assert response.template == "index.html"  # type: ignore[attr-defined]
    assert response.context == {"x": 1}  # type: ignore[attr-defined]


def test_asgi2_app() -> None:
    class ASGI2App:
        def __init__(self, scope: Scope) -> None:
            self.scope = scope

        async def __call__(self, receive: Receive, send: Send) -> None:
            await respond(send, b"asgi2")

    assert TestClient(ASGI2App).get("/").text == "asgi2"  # type: ignore[arg-type]


def test_trio_backend() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        import sniffio

        await respond(send, sniffio.current_async_library().encode())

    assert TestClient(app, backend="trio").get("/").text == "trio"
    assert TestClient(app).get("/").text == "asyncio"


# -- lifespan -----------------------------------------------------------------------------------


def make_lifespan_app(log: list[str], fail: str | None = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                phase = message["type"].rsplit(".", 1)[1]
                log.append(phase)
                if phase == fail:
                    await send({"type": f"lifespan.{phase}.failed", "message": f"{phase} broke"})
                    return
                if phase == "startup":
                    scope["state"]["db"] = "pool"
                await send({"type": f"lifespan.{phase}.complete"})
                if phase == "shutdown":
                    return
        await respond(send, scope["state"].get("db", "-").encode())

    return app


def test_with_block_runs_lifespan_and_passes_state() -> None:
    log: list[str] = []
    client = TestClient(make_lifespan_app(log))
    assert client.get("/").text == "-"
    assert log == []
    with client:
        assert log == ["startup"]
        assert client.get("/").text == "pool"
    assert log == ["startup", "shutdown"]


def test_state_is_copied_per_request() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["n"] = 0
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        scope["state"]["n"] += 1
        await respond(send, str(scope["state"]["n"]).encode())

    with TestClient(app) as client:
        assert [client.get("/").text for _ in range(2)] == ["1", "1"]


def test_startup_failure_raises() -> None:
    log: list[str] = []
    with (
        pytest.raises(RuntimeError, match="startup broke"),
        TestClient(make_lifespan_app(log, fail="startup")),
    ):
        pytest.fail("the block must not run")
    assert log == ["startup"]


def test_shutdown_failure_raises() -> None:
    log: list[str] = []
    client = TestClient(make_lifespan_app(log, fail="shutdown"))
    with pytest.raises(RuntimeError, match="shutdown broke"), client:
        pass


def test_lifespan_exception_propagates() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise Boom("no db")

    with pytest.raises(Boom, match="no db"), TestClient(app):
        pass


def test_app_without_lifespan_support_still_runs() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await respond(send, b"ok")

    with TestClient(app) as client:
        assert client.get("/").text == "ok"


# -- websockets ---------------------------------------------------------------------------------


async def ws_echo(scope: Scope, receive: Receive, send: Send) -> None:
    assert (await receive())["type"] == "websocket.connect"
    protocols = scope["subprotocols"]
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": protocols[0] if protocols else None,
            "headers": [(b"x-extra", b"1")],
        }
    )
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "close":
            await send({"type": "websocket.close", "code": 4001, "reason": "asked"})
            return
        reply: Message = {"type": "websocket.send"}
        if message.get("text") is not None:
            reply["text"] = message["text"]
        else:
            reply["bytes"] = message["bytes"]
        await send(reply)


def test_websocket_echo_text_bytes_json() -> None:
    client = TestClient(ws_echo)
    with client.websocket_connect("/ws", subprotocols=["chat", "v2"]) as ws:
        assert ws.accepted_subprotocol == "chat"
        assert ws.extra_headers == [(b"x-extra", b"1")]
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_bytes() == b"\x00\x01"
        ws.send_json({"a": [1, "é"]})
        assert ws.receive_json() == {"a": [1, "é"]}
        ws.send_json({"b": 2}, mode="binary")
        assert ws.receive_json(mode="binary") == {"b": 2}
        with pytest.raises(ValueError, match="mode"):
            ws.send_json({}, mode="nope")  # type: ignore[arg-type]


def test_websocket_scope() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await receive()
        await send({"type": "websocket.close", "code": 1000})

    client = TestClient(app, cookies={"c": "1"})
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/chat?room=1"):
        pass
    scope = seen[0]
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/chat"
    assert scope["query_string"] == b"room=1"
    assert scope["subprotocols"] == []
    headers = dict(scope["headers"])
    assert headers[b"cookie"] == b"c=1"
    assert headers[b"sec-websocket-version"] == b"13"


def test_app_close_raises_disconnect_with_code_and_reason() -> None:
    with TestClient(ws_echo).websocket_connect("/") as ws:
        ws.send_text("close")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert (info.value.code, info.value.reason) == (4001, "asked")


def test_close_before_accept_raises_on_connect() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 1008, "reason": "nope"})

    with pytest.raises(WebSocketDisconnect) as info, TestClient(app).websocket_connect("/"):
        pytest.fail("must not be entered")
    assert (info.value.code, info.value.reason) == (1008, "nope")


def test_denial_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "websocket.http.response" in scope["extensions"]
        await receive()
        start = {"status": 401, "headers": [(b"www-authenticate", b"Bearer")]}
        await send({"type": "websocket.http.response.start", **start})
        await send({"type": "websocket.http.response.body", "body": b"who", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b" are you"})

    with pytest.raises(WebSocketDenialResponse) as info, TestClient(app).websocket_connect("/"):
        pytest.fail("must not be entered")
    assert info.value.status_code == 401
    assert info.value.headers["www-authenticate"] == "Bearer"
    assert info.value.text == "who are you"
    assert isinstance(info.value, WebSocketDisconnect)


def test_client_close_reaches_the_handler_which_finishes() -> None:
    log: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        log.append((message["type"], message.get("code")))
        await anyio.sleep(0.01)  # cleanup that takes a moment still completes
        log.append("cleaned up")

    with TestClient(app).websocket_connect("/") as ws:
        ws.close(4000)
    assert log == [("websocket.disconnect", 4000), "cleaned up"]


def test_handler_that_never_reads_is_cancelled_on_exit() -> None:
    log: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        try:
            await anyio.sleep(30)
        finally:
            log.append("cancelled")

    started = time.monotonic()
    with TestClient(app).websocket_connect("/"):
        pass
    assert log == ["cancelled"]
    assert time.monotonic() - started < 10


def test_send_after_client_close_fails_in_the_app() -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        try:
            await send({"type": "websocket.send", "text": "late"})
        except OSError as exc:
            errors.append(exc)

    with TestClient(app).websocket_connect("/"):
        pass
    assert len(errors) == 1


def test_websocket_app_exception_is_raised() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise Boom("ws handler")

    with pytest.raises(Boom, match="ws handler"), TestClient(app).websocket_connect("/") as ws:
        ws.send_text("x")
        ws.receive_text()


def test_websocket_app_exception_is_raised_even_when_not_raising() -> None:
    # Starlette's rule: raise_server_exceptions=False turns HTTP errors into 500s, but a
    # websocket has no 500; swallowing the handler's error would hide the bug from the test.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise Boom("ws handler")

    client = TestClient(app, raise_server_exceptions=False)
    with pytest.raises(Boom, match="ws handler"), client.websocket_connect("/") as ws:
        ws.send_text("x")
        ws.receive_text()


def test_websocket_inside_with_block_shares_the_lifespan_state() -> None:
    log: list[str] = []
    inner = make_lifespan_app(log)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await inner(scope, receive, send)
            return
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": scope["state"]["db"]})
        await receive()

    with TestClient(app) as client, client.websocket_connect("/") as ws:
        assert ws.receive_text() == "pool"


# -- AsyncClient and the missing extra ----------------------------------------------------------


@pytest.mark.anyio
async def test_async_client_accepts_app() -> None:
    async with AsyncClient(app=echo_scope, base_url="http://test") as client:
        response = await client.post("/x", content=b"body")
    assert response.status_code == 200
    assert response.json()["body"] == "body"
    assert response.json()["path"] == "/x"


def test_async_client_refuses_app_and_transport() -> None:
    import httpx2

    with pytest.raises(TypeError, match="not both"):
        AsyncClient(app=echo_scope, transport=httpx2.AsyncHTTPTransport())


def test_missing_httpx2_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['httpx2'] = None\n"
        "try:\n"
        "    import asgiforge.runtime.testclient\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        start_new_session=True,
    )
    assert "pip install 'asgiforge[testing]'" in result.stdout


# -- streaming, trailers, debug info, closing ---------------------------------------------------


def test_body_is_sent_only_as_fast_as_the_test_reads_it() -> None:
    sent: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for n in range(3):
            await send({"type": "http.response.body", "body": b"%d" % n, "more_body": True})
            sent.append(n)
        await send({"type": "http.response.body", "body": b""})

    with TestClient(app).stream("GET", "/") as response:
        assert sent == []
        chunks = response.iter_raw()
        assert next(chunks) == b"0"
        assert list(chunks) == [b"1", b"2"]
    assert sent == [0, 1, 2]


def test_head_and_empty_bodies_are_consumed_but_not_yielded() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b"y"})

    client = TestClient(app)
    assert client.head("/").content == b""
    assert client.get("/").content == b"xy"


def test_mutable_chunks_are_copied_when_sent() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        buffer = bytearray(b"one")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": memoryview(buffer), "more_body": True})
        buffer[:] = b"two"
        await send({"type": "http.response.body", "body": memoryview(buffer)})

    assert TestClient(app).get("/").content == b"onetwo"


def test_trailers_are_collected_in_the_response_extensions() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "http.response.trailers" in scope["extensions"]
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        await send({"type": "http.response.body", "body": b"hello"})
        await send(
            {"type": "http.response.trailers", "headers": [(b"x-a", b"1")], "more_trailers": True}
        )
        await send({"type": "http.response.trailers", "headers": [(b"x-a", b"2")]})

    response = TestClient(app).get("/")
    assert response.content == b"hello"
    assert response.extensions["http.response.trailers"] == [(b"x-a", b"1"), (b"x-a", b"2")]
    assert "x-a" not in response.headers


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"type": "http.response.trailers"}], "without declaring trailers"),
        ([{"type": "http.response.body"}], 'without "http.response.start"'),
        (
            [{"type": "http.response.start", "status": 200}] * 2,
            'multiple "http.response.start"',
        ),
        (
            [
                {"type": "http.response.start", "status": 200, "trailers": True},
                {"type": "http.response.trailers"},
            ],
            "before body completed",
        ),
        (
            [{"type": "http.response.start", "status": 200, "trailers": True}]
            + [{"type": "http.response.body"}] * 2,
            "after body completed",
        ),
        (
            [{"type": "http.response.start", "status": 200}] + [{"type": "http.response.body"}] * 2,
            "after response completed",
        ),
    ],
)
def test_protocol_mistakes_fail_the_app(messages: list[Message], error: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    with pytest.raises(AssertionError, match=error):
        TestClient(app).get("/")


def test_debug_info_lands_in_the_response_extensions() -> None:
    info = {"template": "index.html", "context": {"name": "world"}, "blocks": ["nav"]}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.debug", "info": info})
        await send({"type": "http.response.body", "body": b"hi"})

    response = TestClient(app).get("/")
    assert response.extensions["http.response.debug"] == info
    assert response.template == "index.html"  # type: ignore[attr-defined]
    assert response.context == {"name": "world"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("raise_server_exceptions", [True, False])
def test_closing_a_complete_response_waits_for_the_app(raise_server_exceptions: bool) -> None:
    finished = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, b"hello")
        await anyio.sleep(0.05)  # background work after the response, still awaited
        finished.set()
        raise Boom("after the response")

    client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
    expected = pytest.raises(Boom) if raise_server_exceptions else contextlib.nullcontext()
    with expected, client.stream("GET", "/") as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"hello"
        chunks.close()
    assert finished.is_set()


@pytest.mark.parametrize("how", ["with", "close"])
def test_closing_the_client_cancels_responses_left_open(how: str) -> None:
    cancelled = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        await respond(send, b"hello")
        try:
            with anyio.fail_after(10):
                await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise

    client = TestClient(app)
    if how == "with":
        with client:
            response = client.send(client.build_request("GET", "/"), stream=True)
            chunks = response.iter_raw()
            assert next(chunks) == b"hello"
    else:
        response = client.send(client.build_request("GET", "/"), stream=True)
        chunks = response.iter_raw()
        assert next(chunks) == b"hello"
        client.close()
    assert cancelled.is_set()


def test_timeout_argument_warns() -> None:
    from asgiforge.runtime.exceptions import StarletteDeprecationWarning

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, b"ok")

    with pytest.warns(StarletteDeprecationWarning, match="'timeout' argument"):
        TestClient(app).get("/", timeout=1)


def test_endpoint_classes_are_asgi_apps() -> None:
    from asgiforge.runtime.endpoints import HTTPEndpoint
    from asgiforge.runtime.responses import PlainTextResponse

    class Hello(HTTPEndpoint):
        async def get(self, request: Any) -> PlainTextResponse:
            return PlainTextResponse("hello")

    assert TestClient(Hello).get("/").text == "hello"


def test_base_exceptions_from_the_app_reach_the_test() -> None:
    # pytest.fail() (a BaseException) inside an app must fail the test, not crash the portal.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pytest.fail("from inside the app")

    with pytest.raises(pytest.fail.Exception, match="from inside the app"):
        TestClient(app).get("/")

    async def ws_app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        pytest.fail("from inside the websocket app")

    with (
        pytest.raises(pytest.fail.Exception, match="websocket app"),
        TestClient(ws_app).websocket_connect("/"),
    ):
        pass  # pragma: no cover - the handshake already fails
