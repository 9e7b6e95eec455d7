"""GZipMiddleware: what gets compressed, what never does, and chunk-by-chunk streaming."""

from __future__ import annotations

import gzip
import zlib

import pytest

from asgiforge.runtime.middleware.gzip import GZipMiddleware
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


async def test_small_body_is_not_compressed_but_varies() -> None:
    app = GZipMiddleware(text_app(b"tiny"), minimum_size=500)
    start, body = await call(app, http_scope(headers=GZIP))
    assert header(start, "content-encoding") is None
    assert header(start, "vary") == "Accept-Encoding"
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


async def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="compresslevel"):
        GZipMiddleware(text_app(), compresslevel=11)
    with pytest.raises(ValueError, match="minimum_size"):
        GZipMiddleware(text_app(), minimum_size=-1)


async def test_websocket_passes_through() -> None:
    inner = Recorder()
    await call(GZipMiddleware(inner), http_scope(kind="websocket", headers=GZIP))
    assert inner.scopes[0]["type"] == "websocket"
