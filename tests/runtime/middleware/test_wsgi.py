"""WSGIMiddleware: environ, streamed request and response bodies, errors and exc_info."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import anyio
import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware.wsgi import WSGIMiddleware, build_environ
from asgiforge.runtime.routing import Mount
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Message
from tests.runtime.middleware._asgi import call, http_scope

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def hello(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, ", b"WSGI"]


def environ_echo(environ: Environ, start_response: StartResponse) -> list[bytes]:
    keys = [
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "SERVER_PROTOCOL",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTP_X_CUSTOM",
        "wsgi.url_scheme",
        "REMOTE_ADDR",
    ]
    start_response("200 OK", [("Content-Type", "text/plain")])
    lines = [f"{key}={environ.get(key)}" for key in keys]
    lines.append(f"body={environ['wsgi.input'].read().decode()}")
    lines.append(f"spoofed={'HTTP_X_FORWARDED_FOR' in environ}")
    return ["\n".join(lines).encode()]


def test_plain_wsgi_app() -> None:
    client = TestClient(WSGIMiddleware(hello))
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello, WSGI"
    assert response.headers["content-type"] == "text/plain"


def test_environ_is_built_correctly_under_a_mount() -> None:
    app = App(routes=[Mount("/legacy", app=WSGIMiddleware(environ_echo))])
    response = TestClient(app).post(
        "/legacy/päth?q=1",
        content=b"data",
        headers={"content-type": "text/x", "x-custom": "a", "x_forwarded_for": "6.6.6.6"},
    )
    fields = dict(line.split("=", 1) for line in response.text.splitlines())
    assert fields["REQUEST_METHOD"] == "POST"
    assert fields["SCRIPT_NAME"] == "/legacy"
    assert fields["PATH_INFO"] == "/päth".encode().decode("latin-1")
    assert fields["QUERY_STRING"] == "q=1"
    assert fields["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert fields["CONTENT_TYPE"] == "text/x"
    assert fields["CONTENT_LENGTH"] == "4"
    assert fields["HTTP_X_CUSTOM"] == "a"
    assert fields["wsgi.url_scheme"] == "http"
    assert fields["body"] == "data"
    assert fields["spoofed"] == "False"


def test_wsgi_input_is_a_stream_of_the_body() -> None:
    lines_seen: list[bytes] = []

    def reader(environ: Environ, start_response: StartResponse) -> list[bytes]:
        stream = environ["wsgi.input"]
        first = stream.readline()
        lines_seen.append(first)
        lines_seen.append(stream.read(3))
        lines_seen.extend(stream)
        start_response("200 OK", [])
        return [b"ok"]

    def chunks() -> Iterator[bytes]:
        yield b"line one\nab"
        yield b"cdef\nlast"

    response = TestClient(WSGIMiddleware(reader)).post("/", content=chunks())
    assert response.text == "ok"
    assert lines_seen == [b"line one\n", b"abc", b"def\n", b"last"]


@pytest.mark.anyio
async def test_response_body_is_streamed_chunk_by_chunk() -> None:
    gate = threading.Event()
    sent: list[Message] = []

    def slow(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"one"
        # The first chunk must already be with the client while the app is still working.
        if not gate.wait(5):
            raise RuntimeError("first chunk was not delivered before the second was produced")
        yield b"two"

    async def send(message: Message) -> None:
        sent.append(message)
        if message.get("body") == b"one":
            gate.set()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    with anyio.fail_after(10):
        await WSGIMiddleware(slow)(http_scope(), receive, send)
    assert sent[0]["status"] == 200
    assert [m["body"] for m in sent[1:]] == [b"one", b"two", b""]
    assert sent[-1]["more_body"] is False


def test_iterable_close_is_called() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"x"

        def close(self) -> None:
            closed.append(True)

    def app(environ: Environ, start_response: StartResponse) -> Body:
        start_response("200 OK", [])
        return Body()

    assert TestClient(WSGIMiddleware(app)).get("/").text == "x"
    assert closed == [True]


def test_exception_before_start_propagates() -> None:
    def broken(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise ValueError("wsgi failure")

    with pytest.raises(ValueError, match="wsgi failure"):
        TestClient(WSGIMiddleware(broken)).get("/")


def test_exc_info_before_headers_replaces_the_response() -> None:
    def recovering(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"error page"]

    # The client gets the app's error page; the error is then re-raised for the server to log.
    response = TestClient(WSGIMiddleware(recovering), raise_server_exceptions=False).get("/")
    assert (response.status_code, response.text) == (500, "error page")
    with pytest.raises(ValueError, match="late"):
        TestClient(WSGIMiddleware(recovering)).get("/")


def test_build_environ_is_starlettes_and_the_app_gets_pep_3333_types() -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/app/users",
        "root_path": "/app/",
        "query_string": b"",
        "headers": [],
        "client": ("1.2.3.4", 5678),
        "server": ("example.org", 443),
    }
    environ = build_environ(scope, b"body")
    assert environ["wsgi.input"].read() == b"body"
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/app/", "users")
    assert environ["SERVER_PORT"] == 443
    seen: dict[str, object] = {}

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    TestClient(WSGIMiddleware(app)).get("/")
    assert seen["SERVER_PORT"] == "80" and seen["REMOTE_PORT"] == "50000"
    assert seen["wsgi.errors"] is sys.stderr


def test_exc_info_after_headers_sent_reraises() -> None:
    def failing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        try:
            raise ValueError("too late")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    with pytest.raises(ValueError, match="too late"):
        TestClient(WSGIMiddleware(failing)).get("/")


def test_start_response_twice_is_an_error() -> None:
    def twice(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        start_response("201 Created", [])
        return [b""]

    with pytest.raises(RuntimeError, match="twice"):
        TestClient(WSGIMiddleware(twice)).get("/")


def test_legacy_write_callable() -> None:
    def writer(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [])
        write(b"written ")
        return [b"returned"]

    assert TestClient(WSGIMiddleware(writer)).get("/").text == "written returned"


@pytest.mark.anyio
async def test_lifespan_is_acknowledged_and_websocket_refused() -> None:
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await WSGIMiddleware(hello)({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    ws = await call(WSGIMiddleware(hello), http_scope(kind="websocket"))
    assert ws[0]["type"] == "websocket.close"


def test_non_callable_is_refused() -> None:
    with pytest.raises(TypeError, match="WSGI callable"):
        WSGIMiddleware("app")  # type: ignore[arg-type]
