"""RequestBodyLimitMiddleware: 413 beyond the cap, declared or streamed, and per-route caps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.base import BaseHTTPMiddleware
from asgiforge.runtime.middleware.body_limit import (
    MAX_BODY_SIZE_SCOPE_KEY,
    SCOPE_KEY,
    RequestBodyLimitMiddleware,
    max_body_size,
)
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import PlainTextResponse, Response
from asgiforge.runtime.routing import Mount, Route, Router
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
    assert response.text == "Content Too Large"  # Starlette's wording


@pytest.mark.parametrize("raise_server_exceptions", [True, False])
def test_mounted_app_whose_http_middleware_reads_a_chunked_body_over_the_cap_is_413(
    raise_server_exceptions: bool,
) -> None:
    # The mounted App's error boundary sits between the outer limiter and the middleware that
    # read the body: it must let the refusal through instead of answering 500.
    async def reads_body(request: Request, call_next: Any) -> Response:
        await request.body()
        response: Response = await call_next(request)
        return response

    inner = App(
        routes=[Route("/", echo_size, methods=["POST"])],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=reads_body)],
    )
    outer = App(routes=[Mount("/m", inner)], max_body_size=5)

    def chunks() -> Iterator[bytes]:
        yield b"abc"
        yield b"defgh"

    client = TestClient(outer, raise_server_exceptions=raise_server_exceptions)
    response = client.post("/m/", content=chunks())
    assert (response.status_code, response.text) == (413, "Content Too Large")
    assert client.post("/m/", content=b"abc").text == "3"


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
async def test_inner_limiter_replaces_the_limit_and_publishes_it() -> None:
    seen: list[int | None] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope[MAX_BODY_SIZE_SCOPE_KEY])
        message = await receive()
        await PlainTextResponse(str(len(message["body"])))(scope, receive, send)

    scope = http_scope(method="POST", headers=[("content-length", "500")])
    sent = await call(
        RequestBodyLimitMiddleware(RequestBodyLimitMiddleware(inner, 10_000), max_body_size=10),
        scope,
        [b"x" * 500],
    )
    assert sent[0]["status"] == 200
    assert seen == [10_000]
    assert MAX_BODY_SIZE_SCOPE_KEY not in scope  # restored once the request is done


@pytest.mark.anyio
async def test_inner_limiter_refuses_what_was_already_read_beyond_it() -> None:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("must not run")

    async def reads_first(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # e.g. a middleware that looked at the body before routing
        await RequestBodyLimitMiddleware(endpoint, max_body_size=10)(scope, receive, send)

    sent = await call(
        RequestBodyLimitMiddleware(reads_first, max_body_size=1000),
        http_scope(method="POST"),
        [b"x" * 50, b""],
    )
    assert sent[0]["status"] == 413


@pytest.mark.anyio
async def test_oversized_declared_body_is_refused_even_if_never_read() -> None:
    async def ignores_body(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    sent = await call(
        RequestBodyLimitMiddleware(ignores_body, max_body_size=10),
        http_scope(method="POST", headers=[("content-length", "11")]),
        [b"x" * 11],
    )
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 413
    small = await call(
        RequestBodyLimitMiddleware(ignores_body, max_body_size=10),
        http_scope(method="POST", headers=[("content-length", "10")]),
        [b"x" * 10],
    )
    assert (small[0]["status"], small[1]["body"]) == (200, b"ok")


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


# --------------------------------------------------------------- max_body_size= (Starlette 1.6)


async def size(request: Request) -> Response:
    return PlainTextResponse(str(len(await request.body())))


async def ignore(request: Request) -> Response:
    return PlainTextResponse("ignored")


def chunked(total: int) -> Iterator[bytes]:
    for _ in range(total // 10):
        yield b"x" * 10


def keyword_app() -> App:
    return App(
        routes=[
            Route("/", size, methods=["POST"]),
            Route("/ignore", ignore, methods=["POST"]),
            Route("/route", size, methods=["POST"], max_body_size=500),
            Mount(
                "/mount",
                routes=[
                    Route("/", size, methods=["POST"]),
                    Route("/tiny", size, methods=["POST"], max_body_size=20),
                ],
                max_body_size=200,
            ),
            Mount(
                "/router",
                app=Router([Route("/", size, methods=["POST"])], max_body_size=300),
            ),
        ],
        max_body_size=100,
    )


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/", 100), ("/route", 500), ("/mount/", 200), ("/mount/tiny", 20), ("/router/", 300)],
)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_innermost_max_body_size_wins(path: str, limit: int, declared: bool) -> None:
    client = TestClient(keyword_app())

    def body(n: int) -> bytes | Iterator[bytes]:
        return b"x" * n if declared else chunked(n)

    assert client.post(path, content=body(limit)).text == str(limit)
    assert client.post(path, content=body(limit + 10)).status_code == 413


def test_app_max_body_size_refuses_declared_body_the_endpoint_ignores() -> None:
    client = TestClient(keyword_app())
    assert client.post("/ignore", content=b"x" * 101).status_code == 413
    assert client.post("/ignore", content=b"x" * 100).text == "ignored"


def test_413_goes_through_the_apps_handler() -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("too big, sorry", status_code=413)

    app = App(
        routes=[Route("/", size, methods=["POST"])],
        exception_handlers={413: handler},
        max_body_size=10,
    )
    response = TestClient(app).post("/", content=chunked(50))
    assert (response.status_code, response.text) == (413, "too big, sorry")


def test_no_limit_means_no_wrapper() -> None:
    """The unlimited path is benchmarked against a bare ASGI app: nothing may be added to it."""
    assert not isinstance(Route("/", size).app, RequestBodyLimitMiddleware)
    assert not isinstance(Mount("/m", routes=[]).app, RequestBodyLimitMiddleware)
    router = Router([])
    assert router.middleware_stack == router.app

    def layers(app: App) -> list[type]:
        stack: Any = app.build_middleware_stack()
        seen = []
        while stack is not None:
            seen.append(type(stack))
            stack = getattr(stack, "app", None)
        return seen

    assert App().max_body_size is None
    assert RequestBodyLimitMiddleware not in layers(App())
    assert RequestBodyLimitMiddleware in layers(App(max_body_size=1))
    assert isinstance(Route("/", size, max_body_size=5).app, RequestBodyLimitMiddleware)


def test_max_body_size_keywords_check_their_value() -> None:
    with pytest.raises(ValueError):
        App(max_body_size=-1)
    with pytest.raises(TypeError):
        Route("/", size, max_body_size="1MB")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Mount("/m", routes=[], max_body_size=-1)
    with pytest.raises(ValueError):
        Router([], max_body_size=-1)


def test_old_scope_key_name_is_the_starlette_one() -> None:
    assert SCOPE_KEY == MAX_BODY_SIZE_SCOPE_KEY
