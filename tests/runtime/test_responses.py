"""Responses as a client sees them: status, headers, body messages, cookies, ranges, streaming."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import os
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from asgiforge.runtime._conditional import read_small_file
from asgiforge.runtime.background import BackgroundTask
from asgiforge.runtime.requests import ClientDisconnect
from asgiforge.runtime.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import ASGIApp, Message


async def call(
    app: ASGIApp,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    **scope_extra: Any,
) -> tuple[int, dict[bytes, bytes], bytes, list[Message]]:
    """Run `app` once with a hand-made scope; return status, headers, joined body, messages."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": "/",
        "headers": headers or [],
        "query_string": b"",
        **scope_extra,
    }
    messages: list[Message] = []

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], dict(start["headers"]), body, messages


def stdlib_json(value: Any) -> bytes:
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


# --- Response --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_bytes_body_gets_content_length_and_no_content_type() -> None:
    status, headers, body, messages = await call(Response(b"hello"))
    assert status == 200
    assert headers == {b"content-length": b"5"}
    assert body == b"hello"
    assert len(messages) == 2


@pytest.mark.anyio
async def test_text_media_types_get_a_charset_others_do_not() -> None:
    _, headers, body, _ = await call(PlainTextResponse("héllo"))
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert body == "héllo".encode()
    assert headers[b"content-length"] == str(len(body)).encode()
    _, headers, _, _ = await call(HTMLResponse("<p>x</p>"))
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    _, headers, _, _ = await call(Response("x", media_type="text/csv; charset=latin-1"))
    assert headers[b"content-type"] == b"text/csv; charset=latin-1"
    _, headers, _, _ = await call(Response(b"x", media_type="image/png"))
    assert headers[b"content-type"] == b"image/png"


@pytest.mark.anyio
async def test_explicit_headers_are_kept_and_lowercased() -> None:
    response = Response(b"abc", headers={"X-Trace": "1", "Content-Type": "application/x-mine"})
    _, headers, _, _ = await call(response)
    assert headers[b"x-trace"] == b"1"
    assert headers[b"content-type"] == b"application/x-mine"


@pytest.mark.parametrize("status_code", [204, 304, 101])
def test_no_content_length_for_bodiless_statuses(status_code: int) -> None:
    response = Response(status_code=status_code)
    assert all(name != b"content-length" for name, _ in response.raw_headers)


def test_headers_view_edits_raw_headers() -> None:
    response = Response(b"x")
    response.headers["X-Added"] = "yes"
    assert (b"x-added", b"yes") in response.raw_headers
    assert response.headers["content-length"] == "1"


@pytest.mark.parametrize("bad", ["a\r\nSet-Cookie: evil=1", "a\nb", "a\rb", "a\x00b"])
def test_header_values_with_line_breaks_are_refused_at_set_time(bad: str) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Response(b"", headers={"X-Bad": bad})
    with pytest.raises(ValueError):
        Response(b"").headers["X-Bad"] = bad
    with pytest.raises(ValueError):
        Response(b"", media_type=f"text/plain{bad}")
    with pytest.raises(ValueError):
        Response(b"").set_cookie("k", "v", path=f"/{bad}")


def test_header_names_with_line_breaks_are_refused() -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Response(b"", headers={"X-A\r\nX-B": "v"})


@pytest.mark.parametrize(
    "name", ["", "X Bad", "X:Bad", "X\tBad", "X(Bad)", "X@Bad", "X/Bad", '"X"', "X\x7fB", "Xé"]
)
def test_every_non_token_header_name_is_refused_like_mutable_headers(name: str) -> None:
    with pytest.raises(ValueError, match="Invalid header name"):
        Response(b"", headers={name: "v"})
    with pytest.raises(ValueError, match="Invalid header name"):
        Response(b"").headers[name] = "v"


def test_every_token_character_is_a_valid_header_name() -> None:
    name = "X-Ok!#$%&'*+.^_`|~09az"
    response = Response(b"", headers={name: "v"})
    assert (name.lower().encode(), b"v") in response.raw_headers


@pytest.mark.anyio
async def test_background_runs_after_the_body_was_sent() -> None:
    events: list[str] = []
    messages_at_task: list[int] = []
    sent: list[Message] = []

    async def task(tag: str) -> None:
        events.append(tag)
        messages_at_task.append(len(sent))

    response = Response(b"ok", background=BackgroundTask(task, "done"))

    async def send(message: Message) -> None:
        sent.append(message)

    await response({"type": "http", "method": "GET"}, lambda: None, send)  # type: ignore[arg-type,return-value]
    assert events == ["done"]
    assert messages_at_task == [2]


@pytest.mark.anyio
async def test_websocket_scope_gets_a_denial_response() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await PlainTextResponse("no", status_code=403)({"type": "websocket"}, None, send)  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 403


def test_response_through_the_test_client() -> None:
    client = TestClient(PlainTextResponse("hi there", headers={"X-A": "b"}))
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "hi there"
    assert response.headers["x-a"] == "b"


# --- Cookies ---------------------------------------------------------------------------------


def cookies_of(response: Response) -> list[str]:
    return [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]


def test_set_cookie_with_every_attribute() -> None:
    response = Response()
    expires = dt.datetime(2037, 1, 22, 12, 0, 10, tzinfo=dt.UTC)
    response.set_cookie(
        "mycookie",
        "myvalue",
        max_age=10,
        expires=expires,
        path="/app",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="none",
    )
    (header,) = cookies_of(response)
    parts = [p.strip() for p in header.split(";")]
    assert parts[0] == "mycookie=myvalue"
    assert "expires=Thu, 22 Jan 2037 12:00:10 GMT" in parts
    assert "Max-Age=10" in parts
    assert "Path=/app" in parts
    assert "Domain=example.com" in parts
    assert "Secure" in parts
    assert "HttpOnly" in parts
    assert "SameSite=none" in parts


def test_set_cookie_defaults_and_quoting() -> None:
    response = Response()
    response.set_cookie("a", "b c;d")
    (header,) = cookies_of(response)
    assert header.startswith('a="b c\\073d"')
    assert "Path=/" in header
    assert "SameSite=lax" in header
    assert "HttpOnly" not in header
    assert "Partitioned" not in header


def test_set_cookie_rejects_unknown_samesite() -> None:
    with pytest.raises(ValueError, match="samesite"):
        Response().set_cookie("a", "b", samesite="sideways")  # type: ignore[arg-type]


def test_delete_cookie_expires_it_now() -> None:
    response = Response()
    response.delete_cookie("session", path="/x", domain="example.com")
    (header,) = cookies_of(response)
    assert header.startswith('session="";')
    assert "Max-Age=0" in header
    assert "Path=/x" in header
    assert "Domain=example.com" in header
    assert "Partitioned" not in header


@pytest.mark.skipif(sys.version_info < (3, 14), reason="Partitioned needs Python 3.14")
def test_delete_cookie_of_a_partitioned_cookie() -> None:
    response = Response()
    response.delete_cookie("chip", secure=True, samesite="none", partitioned=True)
    (header,) = cookies_of(response)
    assert "Max-Age=0" in header
    assert "Partitioned" in header


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="Partitioned works on Python 3.14")
def test_partitioned_cookie_before_python_3_14_is_a_value_error() -> None:
    """As in Starlette: refused before any header is added, not silently dropped."""
    response = Response()
    with pytest.raises(ValueError, match=r"Python 3\.14"):
        response.set_cookie("chip", "1", secure=True, samesite="none", partitioned=True)
    assert cookies_of(response) == []


def test_several_cookies_are_separate_headers_via_the_client() -> None:
    response = Response(b"")
    response.set_cookie("one", "1")
    response.set_cookie("two", "2")
    client = TestClient(response)
    got = client.get("/")
    assert got.headers.get_list("set-cookie")[0].startswith("one=1")
    assert got.cookies["two"] == "2"


# --- JSON -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_json_is_compact_utf8_and_typed() -> None:
    status, headers, body, _ = await call(JSONResponse({"a": [1, 2.5, "é", None, True]}))
    assert status == 200
    assert headers[b"content-type"] == b"application/json"
    assert body == '{"a":[1,2.5,"é",null,true]}'.encode()


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Name(enum.StrEnum):
    ALICE = "alice"


@dataclasses.dataclass
class Point:
    x: int


ACCEPTED: list[Any] = [
    {"hello": "world"},
    [],
    {},
    "",
    0,
    -0.0,
    1e-5,
    -1.5e-7,
    5e-324,
    1e16,
    1.7976931348623157e308,
    123456789012345.6,
    2**63 - 1,
    2**63,
    -(2**63),
    2**64,
    -(2**64) - 1,
    10**30,
    {1: "int key", 2.5: "float key", False: "bool", None: "none"},
    (1, 2, (3,)),
    Level.HIGH,
    Name.ALICE,
    {"k": Level.HIGH},
    "".join(chr(c) for c in range(0, 0x80)),
    "\u2028\u2029\x7f\ufeff😀",
    {"nested": [[[[{"x": [1e-9]}]]]]},
    [[[]]] * 3,
    {"a": {"b": {"c": None}}},
    # Lists of records, which the agreement check reads with C loops before walking them.
    [{"id": 1, "name": "a"}, {"id": 2, "name": None}],
    [{"id": 1, "v": 1e-5}, {"id": 2}],
    [{"level": Level.HIGH}, {"name": Name.ALICE}],
    [{"a": 1}, [1e-9], "x"],
    {"flat": 1, "small": 1e-5},  # a flat dict is checked before the walk; floats still count
    {"level": Level.HIGH},
]


@pytest.mark.parametrize("value", ACCEPTED, ids=lambda v: type(v).__name__)
def test_json_output_is_identical_to_the_stdlib(value: Any) -> None:
    assert JSONResponse(value).body == stdlib_json(value)


def test_json_deep_nesting_matches_the_stdlib() -> None:
    value: Any = 1
    for _ in range(400):  # beyond orjson's depth limit, within the stdlib's
        value = [value]
    assert JSONResponse(value).body == stdlib_json(value)


def test_json_random_values_match_the_stdlib() -> None:
    rng = random.Random(1234)

    def make(depth: int) -> Any:
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.randrange(-(2**70), 2**70) >> rng.randrange(70)
        if kind == 2:
            return rng.uniform(-1, 1) * 10 ** rng.randrange(-30, 30)
        if kind == 3:
            return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(6)))
        if kind == 4:
            return rng.choice(["", "a", '"', "\\", "\n"])
        if kind == 5:
            return [make(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 6:
            return tuple(make(depth + 1) for _ in range(rng.randrange(3)))
        return {str(make(depth + 1)): make(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(2000):
        value = make(0)
        try:
            expected: bytes | type[BaseException] = stdlib_json(value)
        except (ValueError, TypeError) as exc:
            expected = type(exc)
        if isinstance(expected, bytes):
            assert JSONResponse(value).body == expected, value
        else:
            with pytest.raises(expected):
                JSONResponse(value)


REJECTED: list[tuple[Any, type[BaseException]]] = [
    (float("nan"), ValueError),
    (float("inf"), ValueError),
    ({"x": [1, float("-inf")]}, ValueError),
    (Color.RED, TypeError),
    (uuid.UUID(int=1), TypeError),
    (Point(1), TypeError),
    (dt.datetime(2024, 1, 1), TypeError),
    (dt.date(2024, 1, 1), TypeError),
    (b"bytes", TypeError),
    ({(1, 2): "tuple key"}, TypeError),
    ({1, 2}, TypeError),
    ("\ud800", UnicodeEncodeError),
    ([{"id": 1}, {"x": float("nan")}], ValueError),
    ({"id": 1, "x": float("inf")}, ValueError),
    ({"id": uuid.UUID(int=1)}, TypeError),
    ([{"id": 1}, {"id": uuid.UUID(int=1)}], TypeError),
    ([{"when": dt.date(2024, 1, 1)}], TypeError),
]


@pytest.mark.parametrize(("value", "error"), REJECTED, ids=lambda v: type(v).__name__)
def test_json_rejects_what_the_stdlib_rejects(value: Any, error: type[BaseException]) -> None:
    with pytest.raises(error):
        stdlib_json(value)
    with pytest.raises(error):
        JSONResponse(value)


def test_json_circular_reference_is_a_value_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        JSONResponse(loop)


def test_json_render_is_the_override_point() -> None:
    class Pretty(JSONResponse):
        def render(self, content: Any) -> bytes:
            return json.dumps(content, indent=2).encode()

    response = Pretty({"a": 1})
    assert response.body == b'{\n  "a": 1\n}'
    assert (b"content-length", str(len(response.body)).encode()) in response.raw_headers


@pytest.mark.parametrize("status_code", [200, 201, 204, 304, 404])
def test_json_short_path_builds_what_the_general_path_builds(status_code: int) -> None:
    # `headers={}` takes Response.__init__ + init_headers(); no headers takes the inlined path.
    short = JSONResponse({"message": "hé"}, status_code=status_code)
    general = JSONResponse({"message": "hé"}, status_code=status_code, headers={})
    assert short.body == general.body
    assert short.raw_headers == general.raw_headers
    assert short.status_code == general.status_code and short.background is None
    assert short.headers.get("content-type") == "application/json"


def test_json_subclass_hooks_and_class_media_type_are_honoured() -> None:
    class Headered(JSONResponse):
        media_type = "application/vnd.api+json"

        def init_headers(self, headers: Any = None) -> None:
            super().init_headers(headers)
            self.raw_headers.append((b"x-init", b"1"))

    response = Headered([1])
    assert response.headers["content-type"] == "application/vnd.api+json"
    assert response.headers["x-init"] == "1"


def test_str_content_goes_through_an_overridden_render() -> None:
    class Shouting(PlainTextResponse):
        def render(self, content: Any) -> bytes:
            return str(content).upper().encode()

    response = Shouting("quiet")
    assert response.body == b"QUIET"
    assert response.headers["content-length"] == "5"


def test_overridden_init_headers_runs_for_a_plain_response() -> None:
    class Tagged(Response):
        def init_headers(self, headers: Any = None) -> None:
            self.raw_headers = [(b"x-tag", b"yes")]

    assert Tagged("body").raw_headers == [(b"x-tag", b"yes")]


# --- Redirects --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_redirect_quotes_the_url_like_starlette() -> None:
    status, headers, body, _ = await call(RedirectResponse("/a b/ü?x=1&y=é#frag"))
    assert status == 307
    assert headers[b"location"] == b"/a%20b/%C3%BC?x=1&y=%C3%A9#frag"
    assert body == b""
    status, headers, _, _ = await call(
        RedirectResponse("https://example.com/x", status_code=301, headers={"X-A": "1"})
    )
    assert status == 301
    assert headers[b"location"] == b"https://example.com/x"
    assert headers[b"x-a"] == b"1"


def test_redirect_cannot_inject_headers() -> None:
    response = RedirectResponse("/x\r\nSet-Cookie: evil=1")
    location = dict(response.raw_headers)[b"location"]
    assert b"\r" not in location and b"\n" not in location


# --- Streaming --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_streaming_async_iterator_sends_each_chunk_as_it_comes() -> None:
    async def numbers() -> AsyncIterator[str]:
        for i in range(3):
            yield f"data: {i}\n\n"

    response = StreamingResponse(numbers(), media_type="text/event-stream")
    status, headers, _, messages = await call(response, asgi={"spec_version": "2.4"})
    assert status == 200
    assert headers[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert b"content-length" not in headers
    assert [m["body"] for m in messages[1:]] == [
        b"data: 0\n\n",
        b"data: 1\n\n",
        b"data: 2\n\n",
        b"",
    ]
    assert [m["more_body"] for m in messages[1:]] == [True, True, True, False]


@pytest.mark.anyio
async def test_streaming_sync_iterator_runs_in_a_thread_and_mixes_bytes_and_str() -> None:
    import threading

    main = threading.get_ident()
    threads: list[int] = []

    def chunks() -> Iterator[str | bytes]:
        threads.append(threading.get_ident())
        yield "a"
        yield b"b"

    response = StreamingResponse(chunks())
    _, _, body, _ = await call(response)  # no spec_version: the task-group path
    assert body == b"ab"
    assert threads and threads[0] != main


@pytest.mark.anyio
async def test_streaming_runs_background_after_the_stream() -> None:
    order: list[str] = []

    async def gen() -> AsyncIterator[bytes]:
        order.append("stream")
        yield b"x"

    async def task() -> None:
        order.append("task")

    await call(StreamingResponse(gen(), background=BackgroundTask(task)))
    assert order == ["stream", "task"]


@pytest.mark.anyio
async def test_disconnect_stops_the_generator_on_old_servers() -> None:
    produced: list[int] = []
    closed = anyio.Event()
    gate = anyio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            for i in range(10_000):
                produced.append(i)
                if i == 2:
                    gate.set()
                yield b"."
                await anyio.sleep(0.001)
        finally:
            closed.set()

    async def receive() -> Message:
        await gate.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    ran: list[str] = []

    async def task() -> None:
        ran.append("task")

    response = StreamingResponse(endless(), background=BackgroundTask(task))
    with anyio.fail_after(5):
        await response({"type": "http", "method": "GET", "headers": []}, receive, send)
        await closed.wait()
    assert len(produced) < 100
    assert ran == ["task"]  # the app's clean-up still runs, as in Starlette


@pytest.mark.anyio
async def test_a_quick_stream_on_an_old_server_never_waits_on_receive(
    anyio_backend: tuple[str, dict[str, object]],
) -> None:
    """On asyncio the disconnect listener starts only if the stream outlasts 10 ms: under a
    real server its `receive()` costs more than a whole short stream."""
    if anyio_backend[0] != "asyncio":
        pytest.skip("trio keeps its task group listener")
    receives: list[int] = []

    async def receive() -> Message:
        receives.append(1)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    bodies: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(16):
            await anyio.sleep(0)
            yield b"x" * 4096

    with anyio.fail_after(5):
        await StreamingResponse(chunks())({"type": "http", "headers": []}, receive, send)
        await anyio.sleep(0.05)  # a listener started late would have called receive by now
    assert bodies == [b"x" * 4096] * 16 + [b""]
    assert receives == []


@pytest.mark.anyio
async def test_outer_cancellation_of_a_stream_is_not_taken_for_a_disconnect() -> None:
    """A timeout around a stream on an old server cancels it; nothing swallows that."""
    closed = anyio.Event()

    async def slow() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await anyio.sleep_forever()
            yield b"never"
        finally:
            closed.set()

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    response = StreamingResponse(slow())
    with anyio.fail_after(5):
        with anyio.move_on_after(0.05) as scope:
            await response({"type": "http", "method": "GET", "headers": []}, receive, send)
        assert scope.cancelled_caught
        await anyio.sleep(0.01)  # still cancellable afterwards: no stray cancel left behind
    assert [m.get("body") for m in sent[1:]] == [b"first"]


@pytest.mark.anyio
async def test_disconnect_on_old_servers_leaves_the_task_usable() -> None:
    """After a disconnect ends the stream, the task is not left with a pending cancellation."""

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"."
            await anyio.sleep(0.001)

    async def receive() -> Message:
        await anyio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    with anyio.fail_after(5):
        await StreamingResponse(endless())({"type": "http", "headers": []}, receive, send)
        await anyio.sleep(0.01)
        await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_disconnect_stops_the_generator_on_spec_2_4_servers() -> None:
    closed = anyio.Event()
    sent: list[Message] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            for _ in range(10_000):
                yield b"."
        finally:
            closed.set()

    async def receive() -> Message:
        raise AssertionError("spec 2.4 streaming must not listen for disconnects")

    async def send(message: Message) -> None:
        sent.append(message)
        if len(sent) > 3:
            raise OSError("client went away")

    response = StreamingResponse(endless())
    scope = {"type": "http", "method": "GET", "headers": [], "asgi": {"spec_version": "2.4"}}
    with anyio.fail_after(5), pytest.raises(ClientDisconnect):
        await response(scope, receive, send)
    assert closed.is_set()
    assert len(sent) == 4


@pytest.mark.anyio
async def test_errors_in_the_generator_propagate_unwrapped() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a"
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await call(StreamingResponse(broken()))


def test_streaming_through_the_test_client_chunk_by_chunk() -> None:
    async def gen() -> AsyncIterator[str]:
        for i in range(3):
            yield f"{i},"

    client = TestClient(StreamingResponse(gen()))
    with client.stream("GET", "/") as response:
        assert b"".join(response.iter_bytes()) == b"0,1,2,"


# --- Files ------------------------------------------------------------------------------------


CONTENT = bytes(range(256)) * 400  # 102,400 bytes: several chunks


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


@pytest.mark.anyio
async def test_file_response_sends_the_file_in_chunks_with_validators(data_file: Path) -> None:
    status, headers, body, messages = await call(FileResponse(data_file))
    assert status == 200
    assert body == CONTENT
    assert len(messages) > 2  # chunked
    assert headers[b"content-length"] == str(len(CONTENT)).encode()
    assert headers[b"accept-ranges"] == b"bytes"
    assert headers[b"etag"].startswith(b'"')
    assert headers[b"last-modified"].endswith(b"GMT")
    assert headers[b"content-type"] == b"application/octet-stream"


@pytest.mark.anyio
async def test_file_response_guesses_text_types_and_sets_disposition(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    _, headers, _, _ = await call(FileResponse(path, filename="notes.txt"))
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert headers[b"content-disposition"] == b'attachment; filename="notes.txt"'
    _, headers, _, _ = await call(
        FileResponse(path, filename="résumé ü.txt", content_disposition_type="inline")
    )
    assert headers[b"content-disposition"] == (
        b"inline; filename*=utf-8''r%C3%A9sum%C3%A9%20%C3%BC.txt"
    )
    _, headers, _, _ = await call(FileResponse(path, filename='a"\r\nb.txt'))
    assert b"\r" not in headers[b"content-disposition"]


@pytest.mark.anyio
async def test_file_response_head_has_headers_but_no_body(data_file: Path) -> None:
    status, headers, body, _ = await call(FileResponse(data_file), method="HEAD")
    assert status == 200
    assert body == b""
    assert headers[b"content-length"] == str(len(CONTENT)).encode()


@pytest.mark.anyio
async def test_file_response_missing_file_and_directory_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="does not exist"):
        await call(FileResponse(tmp_path / "nope"))
    with pytest.raises(RuntimeError, match="is not a file"):
        await call(FileResponse(tmp_path))


@pytest.mark.anyio
async def test_file_response_uses_a_given_stat_result(data_file: Path) -> None:
    stat_result = os.stat(data_file)
    _, headers, body, _ = await call(FileResponse(data_file, stat_result=stat_result))
    assert body == CONTENT
    assert headers[b"content-length"] == str(stat_result.st_size).encode()


@pytest.mark.anyio
async def test_file_response_pathsend_extension(data_file: Path) -> None:
    _, _, _, messages = await call(
        FileResponse(data_file), extensions={"http.response.pathsend": {}}
    )
    assert messages[1] == {"type": "http.response.pathsend", "path": str(data_file)}


async def validators(path: Path) -> dict[bytes, bytes]:
    return (await call(FileResponse(path)))[1]


@pytest.mark.anyio
async def test_if_none_match_gives_304(data_file: Path) -> None:
    etag = (await validators(data_file))[b"etag"]
    for value in (etag, b"W/" + etag, b'"other", ' + etag, b"*"):
        status, headers, body, _ = await call(
            FileResponse(data_file), headers=[(b"if-none-match", value)]
        )
        assert status == 304, value
        assert body == b""
        assert headers[b"etag"] == etag
        assert b"content-length" not in headers
    status, _, _, _ = await call(FileResponse(data_file), headers=[(b"if-none-match", b'"x"')])
    assert status == 200


@pytest.mark.anyio
async def test_if_modified_since(data_file: Path) -> None:
    last_modified = (await validators(data_file))[b"last-modified"]
    status, _, _, _ = await call(
        FileResponse(data_file), headers=[(b"if-modified-since", last_modified)]
    )
    assert status == 304
    for value in (b"Mon, 01 Jan 1990 00:00:00 GMT", b"garbage", b""):
        status, _, _, _ = await call(
            FileResponse(data_file), headers=[(b"if-modified-since", value)]
        )
        assert status == 200, value


@pytest.mark.anyio
async def test_if_none_match_mismatch_wins_over_if_modified_since(data_file: Path) -> None:
    last_modified = (await validators(data_file))[b"last-modified"]
    status, _, _, _ = await call(
        FileResponse(data_file),
        headers=[(b"if-none-match", b'"stale"'), (b"if-modified-since", last_modified)],
    )
    assert status == 200


async def ranged(path: Path, value: bytes, *more: tuple[bytes, bytes]) -> Any:
    return await call(FileResponse(path), headers=[(b"range", value), *more])


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        (b"bytes=0-9", 0, 9),
        (b"bytes=100-", 100, len(CONTENT) - 1),
        (b"bytes=-10", len(CONTENT) - 10, len(CONTENT) - 1),
        (b"bytes=-999999999", 0, len(CONTENT) - 1),
        (b"bytes=5-999999999", 5, len(CONTENT) - 1),
        (b"Bytes = 3 - 4", 3, 4),
        (b"bytes=0-1,1-5,2-3", 0, 5),  # overlapping ranges merge into one
        (b"bytes=0-1,2-3", 0, 3),  # adjacent ones too
        (b"bytes=0-" + b"9" * 20_000, 0, len(CONTENT) - 1),
    ],
)
async def test_single_range_gives_206(data_file: Path, spec: bytes, start: int, end: int) -> None:
    status, headers, body, _ = await ranged(data_file, spec)
    assert status == 206
    assert body == CONTENT[start : end + 1]
    assert headers[b"content-range"] == f"bytes {start}-{end}/{len(CONTENT)}".encode()
    assert headers[b"content-length"] == str(end - start + 1).encode()


def parse_multipart(content_type: bytes, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    boundary = content_type.split(b"boundary=")[1]
    assert body.endswith(b"--" + boundary + b"--")
    parts = []
    for raw in body.split(b"--" + boundary)[1:-1]:
        assert raw.startswith(b"\r\n") and raw.endswith(b"\r\n")
        head, _, data = raw[2:-2].partition(b"\r\n\r\n")
        fields = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n"))
        parts.append((fields, data))
    return parts


@pytest.mark.anyio
async def test_multiple_ranges_give_multipart_byteranges(data_file: Path) -> None:
    status, headers, body, _ = await ranged(data_file, b"bytes=500-599, 0-9, -5, 5-12")
    assert status == 206
    assert headers[b"content-length"] == str(len(body)).encode()
    assert headers[b"content-type"].startswith(b"multipart/byteranges; boundary=")
    parts = parse_multipart(headers[b"content-type"], body)
    size = len(CONTENT)
    assert [p[1] for p in parts] == [CONTENT[0:13], CONTENT[500:600], CONTENT[size - 5 :]]
    assert parts[0][0] == {
        "Content-Type": "application/octet-stream",
        "Content-Range": f"bytes 0-12/{size}",
    }
    assert parts[2][0]["Content-Range"] == f"bytes {size - 5}-{size - 1}/{size}"


@pytest.mark.anyio
async def test_multiple_ranges_head_has_no_body(data_file: Path) -> None:
    status, headers, body, _ = await call(
        FileResponse(data_file), method="HEAD", headers=[(b"range", b"bytes=0-1,5-6")]
    )
    assert status == 206
    assert body == b""
    assert int(headers[b"content-length"]) > 4


@pytest.mark.anyio
@pytest.mark.parametrize(
    "spec", [b"bytes=102400-", b"bytes=999999-1000000", b"bytes=-0", b"bytes=0-1,200000-"]
)
async def test_unsatisfiable_range_gives_416(data_file: Path, spec: bytes) -> None:
    status, headers, _, _ = await ranged(data_file, spec)
    assert status == 416
    assert headers[b"content-range"] == f"bytes */{len(CONTENT)}".encode()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "spec",
    [b"items=0-1", b"bytes", b"bytes=", b"bytes=abc", b"bytes=5-1", b"bytes=\xd9\xa3-4", b"=0-1"],
)
async def test_malformed_range_gives_400(data_file: Path, spec: bytes) -> None:
    status, headers, body, _ = await ranged(data_file, spec)
    assert status == 400
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert body


@pytest.mark.anyio
async def test_if_range_uses_the_range_only_when_the_validator_matches(data_file: Path) -> None:
    found = await validators(data_file)
    status, _, _, _ = await ranged(data_file, b"bytes=0-1", (b"if-range", found[b"etag"]))
    assert status == 206
    status, _, _, _ = await ranged(data_file, b"bytes=0-1", (b"if-range", found[b"last-modified"]))
    assert status == 206
    status, _, body, _ = await ranged(data_file, b"bytes=0-1", (b"if-range", b'"old"'))
    assert status == 200
    assert body == CONTENT


@pytest.mark.anyio
async def test_hostile_range_headers_are_answered_fast(data_file: Path) -> None:
    hostile = [
        b"bytes=" + b"1" * 20_000 + b"-",
        b"bytes=-" + b"9" * 20_000,
        b"bytes=" + b",".join(b"%d-%d" % (i, i) for i in range(5_000)),
        b"bytes=" + b"0-," * 5_000,
        b"bytes=" + b"-" * 20_000,
        b"bytes=" + b"," * 20_000,
    ]
    for value in hostile:
        started = time.perf_counter()
        status, _, _, _ = await ranged(data_file, value)
        assert time.perf_counter() - started < 0.5, value[:40]
        assert status in (200, 206, 400, 416)


@pytest.mark.anyio
async def test_too_many_ranges_are_ignored_and_the_whole_file_sent(data_file: Path) -> None:
    spec = b"bytes=" + b",".join(b"%d-%d" % (i * 3, i * 3) for i in range(5_000))
    status, _, body, _ = await ranged(data_file, spec)
    assert status == 200
    assert body == CONTENT
    spec = b"bytes=" + b",".join(b"%d-%d" % (i * 3, i * 3) for i in range(50))
    status, headers, body, _ = await ranged(data_file, spec)
    assert status == 206
    assert len(parse_multipart(headers[b"content-type"], body)) == 50


@pytest.mark.anyio
async def test_max_ranges_is_a_class_attribute_subclasses_can_lower(data_file: Path) -> None:
    class FewRanges(FileResponse):
        max_ranges = 3

    assert FileResponse.max_ranges == 100
    three = b"bytes=0-0,3-3,6-6"
    status, _, _, _ = await call(FewRanges(data_file), headers=[(b"range", three)])
    assert status == 206
    status, _, body, _ = await call(FewRanges(data_file), headers=[(b"range", three + b",9-9")])
    assert (status, body) == (200, CONTENT)


def test_file_response_range_through_the_test_client(data_file: Path) -> None:
    client = TestClient(FileResponse(data_file))
    response = client.get("/", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == CONTENT[10:20]
    assert response.headers["content-range"] == f"bytes 10-19/{len(CONTENT)}"


def test_read_small_file_reads_only_the_file_that_was_checked(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"one")
    checked = os.stat(path)
    assert read_small_file(path, checked, 10) == b"one"
    assert read_small_file(path, checked, 2) is None  # over the limit: streamed instead
    assert read_small_file(tmp_path, os.stat(tmp_path), 10**6) is None  # not a regular file
    path.unlink()
    path.write_bytes(b"other")  # replaced after the check: not the same file any more
    assert read_small_file(path, checked, 10) is None
    path.unlink()
    assert read_small_file(path, checked, 10) is None  # gone


@pytest.mark.anyio
async def test_small_and_large_files_are_sent_whole(tmp_path: Path) -> None:
    small = tmp_path / "small.bin"
    small.write_bytes(b"s" * 100)
    large = tmp_path / "large.bin"
    large.write_bytes(bytes(range(256)) * 1000)  # several chunks
    status, headers, body, messages = await call(FileResponse(small))
    assert (status, body, headers[b"content-length"]) == (200, b"s" * 100, b"100")
    assert len(messages) == 2  # start + the whole body in one message
    status, headers, body, messages = await call(FileResponse(large))
    assert body == large.read_bytes()
    assert len(messages) > 3


def test_shared_header_pairs_stay_bounded_and_correct() -> None:
    """Default header pairs are cached whole, but hostile variety cannot grow the caches."""
    from asgiforge.runtime import responses as module

    for i in range(400):
        response = module.Response(b"x" * (20_000 + i), media_type=f"application/x-{i}")
        assert response.raw_headers == [
            (b"content-length", str(20_000 + i).encode()),
            (b"content-type", f"application/x-{i}".encode()),
        ]
    assert len(module._TYPE_PAIRS) <= 256
    assert all(size < 16 * 1024 for size in module._LENGTH_PAIRS)
    first = module.PlainTextResponse("hi")
    second = module.PlainTextResponse("hi")
    assert first.raw_headers == second.raw_headers
    assert first.raw_headers is not second.raw_headers  # each response owns its list
    first.headers["x-extra"] = "1"
    assert (b"x-extra", b"1") not in second.raw_headers


# --- Starlette parity: bodies, WebSocket denial, files -------------------------------------------


def test_memoryview_bodies_are_counted_in_bytes() -> None:
    typed = memoryview(bytearray(8)).cast("i")  # 2 items of 4 bytes
    response = Response(typed)
    assert dict(response.raw_headers)[b"content-length"] == b"8"
    strided = memoryview(b"abcdef")[::2]  # not contiguous
    response = Response(strided)
    assert bytes(response.body) == b"ace"
    assert dict(response.raw_headers)[b"content-length"] == b"3"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["plain", "streaming", "file"])
async def test_a_response_to_a_websocket_scope_is_a_denial_response(
    kind: str, data_file: Path
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"no"

    ran: list[str] = []

    async def task() -> None:
        ran.append("task")

    response: Response
    if kind == "plain":
        response = Response(b"no", status_code=403, background=BackgroundTask(task))
    elif kind == "streaming":
        response = StreamingResponse(chunks(), status_code=403, background=BackgroundTask(task))
    else:
        response = FileResponse(data_file, status_code=403, background=BackgroundTask(task))
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        raise AssertionError("a denial response does not read")

    await response({"type": "websocket", "path": "/", "headers": []}, receive, send)
    assert {m["type"] for m in sent} == {
        "websocket.http.response.start",
        "websocket.http.response.body",
    }
    assert ran == ["task"]


@pytest.mark.anyio
async def test_file_of_unknown_type_is_octet_stream(tmp_path: Path) -> None:
    path = tmp_path / "blob.unknownsuffix"
    path.write_bytes(b"x")
    _, headers, _, _ = await call(FileResponse(path))
    assert headers[b"content-type"] == b"application/octet-stream"


@pytest.mark.anyio
async def test_a_weak_if_range_or_a_non_get_method_ignores_the_range(data_file: Path) -> None:
    _, headers, _, _ = await call(FileResponse(data_file))
    etag = headers[b"etag"]
    status, _, _, _ = await ranged(data_file, b"bytes=0-9", (b"if-range", etag))
    assert status == 206
    status, _, body, _ = await ranged(data_file, b"bytes=0-9", (b"if-range", b"W/" + etag))
    assert (status, len(body)) == (200, len(CONTENT))
    status, _, body, _ = await call(
        FileResponse(data_file), method="POST", headers=[(b"range", b"bytes=0-9")]
    )
    assert (status, len(body)) == (200, len(CONTENT))


@pytest.mark.anyio
async def test_multipart_ranges_length_matches_the_body(data_file: Path) -> None:
    status, headers, body, _ = await ranged(data_file, b"bytes=0-9,20-29")
    assert status == 206
    assert int(headers[b"content-length"]) == len(body)


@pytest.mark.anyio
async def test_multipart_ranges_of_a_truncated_file_fail_loudly(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789")
    response = FileResponse(path, stat_result=path.stat())
    path.write_bytes(b"012")
    with pytest.raises(RuntimeError, match="shorter than expected"):
        await call(response, headers=[(b"range", b"bytes=0-2,5-7")])


@pytest.mark.anyio
async def test_file_stops_on_disconnect_on_old_servers_and_runs_its_background(
    data_file: Path,
) -> None:
    disconnected = anyio.Event()
    ran: list[str] = []

    async def receive() -> Message:
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            disconnected.set()
            await anyio.sleep_forever()  # a server that never drains

    async def task() -> None:
        ran.append("task")

    response = FileResponse(data_file, background=BackgroundTask(task))
    with anyio.fail_after(5):
        await response({"type": "http", "method": "GET", "headers": []}, receive, send)
    assert ran == ["task"]


@pytest.mark.anyio
async def test_stream_background_runs_when_the_client_leaves_after_the_body() -> None:
    """The trio bug: a disconnect racing the end of the body skipped the background task."""
    body_done = anyio.Event()
    ran: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b"all"

    async def receive() -> Message:
        await body_done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            body_done.set()
            await anyio.sleep(0)  # let the listener see the disconnect first

    async def task() -> None:
        ran.append("task")

    response = StreamingResponse(chunks(), background=BackgroundTask(task))
    with anyio.fail_after(5):
        await response({"type": "http", "method": "GET", "headers": []}, receive, send)
    assert ran == ["task"]


def test_file_response_method_argument_is_accepted_with_a_deprecation(data_file: Path) -> None:
    with pytest.warns(DeprecationWarning, match="unused"):
        response = FileResponse(data_file, method="GET")
    assert TestClient(response).head("/").status_code == 200
