"""GZipMiddleware: what gets compressed, what never does, and chunk-by-chunk streaming."""

from __future__ import annotations

import gzip
import zlib

import pytest

from asgiforge.runtime.middleware.gzip import GZipMiddleware, GZipResponder
from asgiforge.runtime.types import Receive, Scope, Send
from tests.runtime.middleware._asgi import (
    Recorder,
    call,
    chunked_app,
    client,
    header,
    header_list,
    http_scope,
    text_app,
)

pytestmark = pytest.mark.anyio

BIG = b"x" * 1000
GZIP = [("accept-encoding", "gzip, deflate")]


async def test_large_body_is_compressed_with_exact_length() -> None:
    app = GZipMiddleware(text_app(BIG))
    sent = await call(app, http_scope(headers=GZIP))
    start, body = sent
    assert header(start, "content-encoding") == "gzip"
    assert header(start, "vary") == "Accept-Encoding"
    assert header(start, "content-length") == str(len(body["body"]))
    assert gzip.decompress(body["body"]) == BIG
    async with client(app) as c:  # and a real client decodes it
        response = await c.get("/")
    assert response.content == BIG


async def test_small_body_is_neither_compressed_nor_varied() -> None:
    # Below minimum_size nobody gets gzip, so the body does not vary by Accept-Encoding.
    app = GZipMiddleware(text_app(b"tiny"), minimum_size=500)
    start, body = await call(app, http_scope(headers=GZIP))
    assert header(start, "content-encoding") is None
    assert header(start, "vary") is None
    assert body["body"] == b"tiny"


async def test_client_without_gzip_gets_identity_with_vary() -> None:
    app = GZipMiddleware(text_app(BIG))
    for headers in ([], [("accept-encoding", "br")], [("accept-encoding", "gzip;q=0")]):
        start, body = await call(app, http_scope(headers=headers))
        assert header(start, "content-encoding") is None
        assert header(start, "vary") == "Accept-Encoding"
        assert body["body"] == BIG


@pytest.mark.parametrize(
    ("status", "extra", "content_type"),
    [
        (206, [(b"content-range", b"bytes 0-999/2000")], b"text/plain"),
        (200, [(b"content-encoding", b"br")], b"text/plain"),
        (200, [], b"text/event-stream"),
    ],
)
async def test_never_compressed(
    status: int, extra: list[tuple[bytes, bytes]], content_type: bytes
) -> None:
    app = GZipMiddleware(text_app(BIG, status=status, headers=extra, content_type=content_type))
    start, body = await call(app, http_scope(headers=GZIP))
    assert header_list(start, "content-encoding") in ([], ["br"])
    assert body["body"] == BIG


async def test_streaming_is_compressed_chunk_by_chunk() -> None:
    chunks = [b"a" * 300, b"b" * 300, b"c" * 300]
    app = GZipMiddleware(chunked_app(chunks), minimum_size=10)
    sent = await call(app, http_scope(headers=GZIP))
    start, *bodies = sent
    assert header(start, "content-encoding") == "gzip"
    assert header(start, "content-length") is None
    assert len(bodies) == 3
    assert [b["more_body"] for b in bodies] == [True, True, False]
    # Each chunk is flushed: decompressing the prefix received so far yields that chunk already.
    decoder = zlib.decompressobj(31)
    for chunk, message in zip(chunks, bodies, strict=True):
        assert decoder.decompress(message["body"]) == chunk
    assert decoder.eof


async def test_event_stream_is_streamed_untouched() -> None:
    chunks = [b"data: 1\n\n" * 100, b"data: 2\n\n"]
    app = GZipMiddleware(chunked_app(chunks, content_type=b"text/event-stream"), minimum_size=1)
    _, *bodies = await call(app, http_scope(headers=GZIP))
    assert [b["body"] for b in bodies] == chunks


async def test_app_vary_is_merged() -> None:
    app = GZipMiddleware(text_app(BIG, headers=[(b"vary", b"Origin")]))
    start, _ = await call(app, http_scope(headers=GZIP))
    assert header_list(start, "vary") == ["Origin, Accept-Encoding"]


async def test_several_vary_headers_become_one() -> None:
    headers = [(b"vary", b"Accept-Language"), (b"Vary", b"Cookie")]
    app = GZipMiddleware(text_app(BIG, headers=headers))
    start, _ = await call(app, http_scope(headers=GZIP))
    assert header_list(start, "vary") == ["Accept-Language, Cookie, Accept-Encoding"]


@pytest.mark.parametrize(
    ("excluded", "content_type"),
    [
        (("application/grpc",), b"application/grpc+proto"),
        (("Application/ZIP; charset=utf-8",), b"application/zip"),
        (("text/event-stream",), b"Text/Event-Stream; charset=utf-8"),
    ],
)
async def test_exclusions_ignore_case_parameters_and_grpc_suffixes(
    excluded: tuple[str, ...], content_type: bytes
) -> None:
    app = GZipMiddleware(text_app(BIG, content_type=content_type), exclude_content_types=excluded)
    start, body = await call(app, http_scope(headers=GZIP))
    assert header(start, "content-encoding") is None
    assert header(start, "vary") is None
    assert body["body"] == BIG


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
async def test_early_hints_and_trailers_pass_through(encoding: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        start = {"type": "http.response.start", "status": 200, "headers": [], "trailers": True}
        await send(start)
        await send({"type": "http.response.body", "body": BIG})
        await send({"type": "http.response.trailers", "headers": [(b"grpc-status", b"0")]})

    sent = await call(GZipMiddleware(app), http_scope(headers=[("accept-encoding", encoding)]))
    assert [m["type"] for m in sent] == [
        "http.response.early_hint",
        "http.response.start",
        "http.response.body",
        "http.response.trailers",
    ]
    assert header(sent[1], "content-length") is None  # trailers follow: no fixed length
    assert header(sent[1], "content-encoding") == (encoding if encoding == "gzip" else None)
    body = sent[2]["body"]
    assert (gzip.decompress(body) if encoding == "gzip" else body) == BIG


async def test_pathsend_is_never_compressed() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": "/tmp/x"})

    sent = await call(GZipMiddleware(app), http_scope(headers=GZIP))
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": []},
        {"type": "http.response.pathsend", "path": "/tmp/x"},
    ]


async def test_gzip_responder_compresses_whatever_the_client_accepts() -> None:
    start, body = await call(GZipResponder(text_app(BIG), 500), http_scope())
    assert header(start, "content-encoding") == "gzip"
    assert gzip.decompress(body["body"]) == BIG
    excluded = GZipResponder(
        text_app(BIG, content_type=b"application/zip"),
        500,
        exclude_content_types=("Application/ZIP; charset=utf-8",),
    )
    start, body = await call(excluded, http_scope())
    assert header(start, "content-encoding") is None
    assert body["body"] == BIG


async def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="compresslevel"):
        GZipMiddleware(text_app(), compresslevel=11)
    with pytest.raises(ValueError, match="minimum_size"):
        GZipMiddleware(text_app(), minimum_size=-1)


async def test_websocket_passes_through() -> None:
    inner = Recorder()
    await call(GZipMiddleware(inner), http_scope(kind="websocket", headers=GZIP))
    assert inner.scopes[0]["type"] == "websocket"


@pytest.mark.parametrize(
    ("content_type", "compressed"),
    [
        (b"text/plain", True),
        (b"application/json", True),
        (b"image/png", False),
        (b"IMAGE/JPEG; q=1", False),
        (b"video/mp4", False),  # video/* wildcard
        (b"audio/ogg", False),
        (b"font/woff2", False),
        (b"application/zip", False),
        (b"application/grpc", False),
        (b"text/event-stream; charset=utf-8", False),
    ],
)
async def test_default_excluded_content_types(content_type: bytes, compressed: bool) -> None:
    app = GZipMiddleware(text_app(BIG, content_type=content_type))
    start, body = await call(app, http_scope(headers=GZIP))
    assert (header(start, "content-encoding") == "gzip") is compressed
    if not compressed:
        assert body["body"] == BIG


async def test_custom_exclude_content_types_replace_the_defaults() -> None:
    def make(content_type: bytes) -> GZipMiddleware:
        return GZipMiddleware(
            text_app(BIG, content_type=content_type), exclude_content_types=("application/*",)
        )

    for content_type, compressed in [
        (b"application/json", False),
        (b"image/png", True),
        (b"text/event-stream", True),  # as in Starlette: the defaults are replaced entirely
    ]:
        start, _ = await call(make(content_type), http_scope(headers=GZIP))
        assert (header(start, "content-encoding") == "gzip") is compressed, content_type


async def test_large_chunks_are_compressed_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asgiforge.runtime.middleware.gzip as gzip_module

    sizes: list[int] = []
    real_run_sync = gzip_module.anyio.to_thread.run_sync

    async def spy(func: object, *args: object) -> object:
        sizes.append(len(args[1]))  # type: ignore[arg-type]
        return await real_run_sync(func, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(gzip_module.anyio.to_thread, "run_sync", spy)
    _, body = await call(GZipMiddleware(text_app(BIG)), http_scope(headers=GZIP))
    assert sizes == []  # under the default 128 KiB: inline
    assert gzip.decompress(body["body"]) == BIG

    app = GZipMiddleware(chunked_app([BIG, b"y" * 10, BIG]), 500, 9, 1000)
    assert app.thread_minimum_size == 1000
    sent = await call(app, http_scope(headers=GZIP))
    assert sizes == [1000, 1000]  # the two big chunks, not the small one
    assert gzip.decompress(b"".join(m["body"] for m in sent[1:])) == BIG + b"y" * 10 + BIG


def test_gzip_options_are_checked_and_exclusions_keyword_only() -> None:
    with pytest.raises(ValueError, match="thread_minimum_size"):
        GZipMiddleware(text_app(), thread_minimum_size=-1)
    with pytest.raises(TypeError):
        GZipMiddleware(text_app(), 500, 9, 1000, ("image/png",))  # type: ignore[misc]
    with pytest.raises(TypeError, match="tuple of strings"):
        GZipMiddleware(text_app(), exclude_content_types="image/png")  # type: ignore[arg-type]
