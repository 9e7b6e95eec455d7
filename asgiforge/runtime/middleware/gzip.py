"""GZipMiddleware: compress responses for clients that accept gzip, without breaking streaming.

Each streamed chunk is compressed and flushed (``Z_SYNC_FLUSH``) as it arrives, so a slow stream
still reaches the client chunk by chunk instead of waiting for zlib's internal buffer to fill.
Never compressed: the `exclude_content_types` (by default already-compressed media such as
images, video, fonts, archives, plus SSE and gRPC streams; ``type/*`` wildcards allowed, parameters
and case ignored), a body the app already encoded, a 206 partial response (its byte ranges refer to
the identity body), a ``pathsend`` body, and complete bodies smaller than `minimum_size`. Chunks of
`thread_minimum_size` bytes or more are compressed in a worker thread so a large body does not
stall the event loop. Every response that would have been compressed for a gzip client carries
``Vary: Accept-Encoding`` (merged into one Vary header) so caches keep the two variants apart.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable

import anyio.to_thread

from asgiforge.runtime.middleware._vary import merge_vary
from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_EXCLUDED_CONTENT_TYPES", "GZipMiddleware", "GZipResponder"]

# Media that is already compressed (gzip would only cost CPU), plus SSE and gRPC streams.
DEFAULT_EXCLUDED_CONTENT_TYPES: tuple[str, ...] = (
    "application/grpc",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "audio/*",
    "font/woff",
    "font/woff2",
    "image/avif",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/event-stream",
    "video/*",
)

Headers = list[tuple[bytes, bytes]]

_NO_BODY_STATUSES = frozenset({204, 206, 304})


def _accepts_gzip(value: bytes) -> bool:
    """True if an Accept-Encoding value admits gzip (``gzip;q=0`` is an explicit refusal)."""
    for item in value.lower().split(b","):
        coding, _, params = item.partition(b";")
        if coding.strip() not in (b"gzip", b"*"):
            continue
        params = params.replace(b" ", b"")
        if params.startswith(b"q="):
            try:
                return float(params[2:7]) > 0
            except ValueError:
                return False
        return True
    return False


def _normalize(content_types: tuple[str, ...]) -> tuple[str, ...]:
    """``"Application/ZIP; charset=utf-8"`` -> ``"application/zip"``: parameters never matter."""
    return tuple(t.partition(";")[0].strip().lower() for t in content_types)


class _Exclusions:
    """`exclude_content_types` compiled once: exact media types and ``type/*`` prefixes.

    A structured-syntax gRPC type (``application/grpc+proto``) counts as ``application/grpc``.
    """

    __slots__ = ("exact", "prefixes")

    def __init__(self, content_types: tuple[str, ...]) -> None:
        wanted = set(content_types)
        self.exact = frozenset(t.encode("latin-1") for t in wanted if not t.endswith("/*"))
        self.prefixes = tuple(t[:-1].encode("latin-1") for t in wanted if t.endswith("/*"))

    def __contains__(self, content_type: bytes) -> bool:
        media = content_type.partition(b";")[0].strip().lower()
        if media in self.exact or (bool(self.prefixes) and media.startswith(self.prefixes)):
            return True
        return media.startswith(b"application/grpc+") and b"application/grpc" in self.exact


def _compressible(message: Message, excluded: _Exclusions) -> bool:
    """Whether the response described by an ``http.response.start`` may be gzipped at all."""
    if message.get("status", 200) in _NO_BODY_STATUSES:
        return False
    for key, value in message.get("headers", ()):
        lowered = key.lower()
        if lowered == b"content-encoding":
            return False
        if lowered == b"content-type" and value in excluded:
            return False
    return True


class GZipMiddleware:
    """Starlette's GZipMiddleware(app, minimum_size=500, compresslevel=9,
    thread_minimum_size=128 KiB, *, exclude_content_types=DEFAULT_EXCLUDED_CONTENT_TYPES)."""

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = 128 * 1024,
        *,
        exclude_content_types: tuple[str, ...] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        if not 0 <= compresslevel <= 9:
            raise ValueError(f"compresslevel must be between 0 and 9, got {compresslevel!r}")
        if minimum_size < 0:
            raise ValueError(f"minimum_size must be >= 0, got {minimum_size!r}")
        if isinstance(exclude_content_types, str):
            raise TypeError("exclude_content_types must be a tuple of strings, not one string")
        if thread_minimum_size < 0:
            raise ValueError(f"thread_minimum_size must be >= 0, got {thread_minimum_size!r}")
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.thread_minimum_size = thread_minimum_size
        self.exclude_content_types = _normalize(tuple(exclude_content_types))
        self._excluded = _Exclusions(self.exclude_content_types)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepts = False
        for key, value in scope["headers"]:
            if key == b"accept-encoding":
                accepts = _accepts_gzip(value)
                break
        await self.app(scope, receive, _GZipSender(send, self, accepts))


class GZipResponder:
    """Starlette's GZipResponder(app, minimum_size, compresslevel=9, *, thread_minimum_size,
    exclude_content_types): gzip every compressible response, whatever the client accepts.

    `GZipMiddleware` picks it when the client accepts gzip; on its own it suits an app that knows
    its clients decode gzip. It shares the middleware's per-request sender, so it costs nothing.
    """

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int,
        compresslevel: int = 9,
        *,
        thread_minimum_size: int = 128 * 1024,
        exclude_content_types: tuple[str, ...] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        self._options = GZipMiddleware(
            app,
            minimum_size,
            compresslevel,
            thread_minimum_size,
            exclude_content_types=exclude_content_types,
        )
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _GZipSender(send, self._options, True))


class _GZipSender:
    """The wrapped `send` of one request: holds the start message until the first body chunk.

    Waiting for the first chunk is what lets a small, complete body go out untouched (no Vary:
    it would not be compressed for anyone) and a complete large body get an exact Content-Length.
    For a client that does not accept gzip (`compress` false) the same decision only adds
    ``Vary: Accept-Encoding``, so caches keep that identity body apart from the gzip variant.
    Early hints and trailers pass through untouched; a ``pathsend`` body is never compressed.
    """

    __slots__ = ("_compress_body", "_compressor", "_options", "_send", "_start", "_state")

    def __init__(self, send: Send, options: GZipMiddleware, compress: bool) -> None:
        self._send = send
        self._options = options
        self._compress_body = compress
        self._start: Message | None = None
        # "start": waiting for the first body; "gzip": compressing; "pass": untouched.
        self._state = "start"
        self._compressor: zlib._Compress | None = None

    def __call__(self, message: Message) -> Awaitable[None]:
        """Hands back the wrapped send's awaitable itself once the decision is made: a passed
        or (inline) compressed chunk costs no coroutine of its own."""
        state = self._state
        if state == "pass":
            return self._send(message)
        if state == "gzip":
            if message["type"] == "http.response.body" and self._compressor is not None:
                return self._send_compressed(message)
            return self._send(message)
        return self._decide(message)

    async def _decide(self, message: Message) -> None:
        """The start message, or the first body: whether (and how) this response is gzipped."""
        kind = message["type"]
        if kind == "http.response.start":
            if _compressible(message, self._options._excluded):
                self._start = message
            else:
                self._state = "pass"
                await self._send(message)
            return
        start = self._start
        if start is None or kind != "http.response.body":
            # Early hints before the start, or a pathsend body: forwarded as they are.
            if start is not None:
                self._state = "pass"
                await self._send(start)
            await self._send(message)
            return
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if not more and len(body) < self._options.minimum_size:
            self._state = "pass"
            await self._send(start)
            await self._send(message)
            return
        self._state = "gzip"
        headers = merge_vary(list(start.get("headers", ())), b"Accept-Encoding")
        if not self._compress_body:
            start["headers"] = headers
            await self._send(start)
            await self._send(message)
            return
        self._compressor = zlib.compressobj(self._options.compresslevel, zlib.DEFLATED, 31)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-encoding", b"gzip"))
        if not more:
            data = await self._compress(body, zlib.Z_FINISH)
            if not start.get("trailers", False):
                headers.append((b"content-length", str(len(data)).encode()))
            start["headers"] = headers
            await self._send(start)
            await self._send({"type": "http.response.body", "body": data})
            return
        start["headers"] = headers
        await self._send(start)
        await self._send_compressed(message)

    def _send_compressed(self, message: Message) -> Awaitable[None]:
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        mode = zlib.Z_SYNC_FLUSH if more else zlib.Z_FINISH
        compressor = self._compressor
        if compressor is None:  # pragma: no cover - only reachable in state "gzip"
            raise RuntimeError("gzip compressor missing")
        if len(body) < self._options.thread_minimum_size:
            data = compressor.compress(body) + compressor.flush(mode)
            return self._send({"type": "http.response.body", "body": data, "more_body": more})
        return self._send_compressed_in_thread(compressor, body, mode, more)

    async def _send_compressed_in_thread(
        self, compressor: zlib._Compress, body: bytes, mode: int, more: bool
    ) -> None:
        data = await anyio.to_thread.run_sync(_compress_chunk, compressor, body, mode)
        await self._send({"type": "http.response.body", "body": data, "more_body": more})

    async def _compress(self, body: bytes, flush_mode: int) -> bytes:
        """Compress and flush one chunk; big chunks in a worker thread (zlib releases the GIL)."""
        compressor = self._compressor
        if compressor is None:  # pragma: no cover - only reachable in state "gzip"
            raise RuntimeError("gzip compressor missing")
        if len(body) < self._options.thread_minimum_size:
            return compressor.compress(body) + compressor.flush(flush_mode)
        return await anyio.to_thread.run_sync(_compress_chunk, compressor, body, flush_mode)


def _compress_chunk(compressor: zlib._Compress, body: bytes, flush_mode: int) -> bytes:
    return compressor.compress(body) + compressor.flush(flush_mode)
