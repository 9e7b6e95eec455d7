"""RequestBodyLimitMiddleware: 413 beyond the cap, declared or streamed, and per-route caps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.body_limit import (
    SCOPE_KEY,
    RequestBodyLimitMiddleware,
    max_body_size,
)
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import PlainTextResponse, Response
from asgiforge.runtime.routing import Route
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Message, Receive, Scope, Send
from tests.runtime.middleware._asgi import Recorder, call, http_scope


async def echo_size(request: Request) -> Response:
    return PlainTextResponse(str(len(await request.body())))


@max_body_size(100)
async def small(request: Request) -> Response:
    return PlainTextResponse(str(len(await request.body())))


@max_body_size(None)
def unlimited(request: Request) -> Response:  # sync endpoints work too
    return PlainTextResponse("unlimited")


async def unlimited_async(request: Request) -> Response:
    return PlainTextResponse(str(len(await request.body())))


def make_app(limit: int | None = 1000) -> App:
    return App(
        routes=[
            Route("/", echo_size, methods=["POST"]),
            Route("/small", small, methods=["POST"]),
            Route("/big", max_body_size(None)(unlimited_async), methods=["POST"]),
            Route("/sync", unlimited, methods=["POST"]),
        ],
        middleware=[Middleware(RequestBodyLimitMiddleware, max_body_size=limit)],
    )


def test_body_under_the_cap_is_read() -> None:
    response = TestClient(make_app()).post("/", content=b"x" * 1000)
    assert (response.status_code, response.text) == (200, "1000")


def test_declared_length_over_the_cap_is_413() -> None:
    response = TestClient(make_app()).post("/", content=b"x" * 1001)
    assert response.status_code == 413
    assert "1000 bytes" in response.text


def test_chunked_body_over_the_cap_is_413() -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 100

    response = TestClient(make_app()).post("/", content=chunks())
    assert response.status_code == 413


def test_per_route_override_with_decorator() -> None:
    client = TestClient(make_app())
    assert client.post("/small", content=b"x" * 101).status_code == 413
    assert client.post("/small", content=b"x" * 100).text == "100"
    assert client.post("/big", content=b"x" * 5000).text == "5000"


def test_none_disables_the_cap() -> None:
    assert TestClient(make_app(None)).post("/", content=b"x" * 50_000).text == "50000"


@pytest.mark.anyio
async def test_declared_length_is_refused_before_reading_the_body() -> None:
    pulls = 0

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise AssertionError("the body must not be delivered")

    async def receive() -> Message:
        nonlocal pulls
        pulls += 1
        return {"type": "http.request", "body": b"x" * 10, "more_body": True}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = http_scope(method="POST", headers=[("content-length", "10000000")])
    await RequestBodyLimitMiddleware(endpoint, max_body_size=1000)(scope, receive, send)
    assert pulls == 0
    assert sent[0]["status"] == 413


@pytest.mark.anyio
async def test_streamed_body_stops_at_the_cap() -> None:
    pulled: list[int] = []

    async def reader(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            pulled.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break

    sent = await call(
        RequestBodyLimitMiddleware(reader, max_body_size=250),
        http_scope(method="POST"),
        [b"x" * 100] * 50,
    )
    assert sent[0]["status"] == 413
    assert len(pulled) == 2  # the third chunk crossed the limit and was never handed over


@pytest.mark.anyio
async def test_scope_key_override_set_by_inner_app() -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        scope[SCOPE_KEY] = 10_000
        message = await receive()
        await PlainTextResponse(str(len(message["body"])))(scope, receive, send)

    sent = await call(
        RequestBodyLimitMiddleware(inner, max_body_size=10),
        http_scope(method="POST", headers=[("content-length", "500")]),
        [b"x" * 500],
    )
    assert sent[0]["status"] == 200


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        RequestBodyLimitMiddleware(Recorder(), max_body_size=-1)
    with pytest.raises(TypeError):
        RequestBodyLimitMiddleware(Recorder(), max_body_size="1MB")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        max_body_size(-5)


@pytest.mark.anyio
async def test_non_http_scopes_pass_through() -> None:
    inner = Recorder()
    await call(RequestBodyLimitMiddleware(inner, max_body_size=1), http_scope(kind="websocket"))
    assert inner.scopes[0]["type"] == "websocket"
