"""GZipMiddleware: compress responses for clients that accept gzip, without breaking streaming.

Each streamed chunk is compressed and flushed (``Z_SYNC_FLUSH``) as it arrives, so a slow stream
still reaches the client chunk by chunk instead of waiting for zlib's internal buffer to fill.
Never compressed: ``text/event-stream`` (SSE must not be buffered), a body the app already
encoded, a 206 partial response (its byte ranges refer to the identity body), and bodies smaller
than `minimum_size`. Every response that could have been compressed carries
``Vary: Accept-Encoding`` so caches keep the two variants apart.
"""

from __future__ import annotations

import zlib

from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["GZipMiddleware"]

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


def _add_vary(headers: Headers) -> None:
    for index, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            tokens = [part.strip().lower() for part in value.split(b",")]
            if b"accept-encoding" not in tokens and b"*" not in tokens:
                headers[index] = (key, value + b", Accept-Encoding")
            return
    headers.append((b"vary", b"Accept-Encoding"))


def _compressible(message: Message) -> bool:
    """Whether the response described by an ``http.response.start`` may be gzipped at all."""
    if message.get("status", 200) in _NO_BODY_STATUSES:
        return False
    for key, value in message.get("headers", ()):
        lowered = key.lower()
        if lowered == b"content-encoding":
            return False
        if lowered == b"content-type" and value.lower().startswith(b"text/event-stream"):
            return False
    return True


class GZipMiddleware:
    """Starlette's GZipMiddleware(app, minimum_size=500, compresslevel=9)."""

    def __init__(self, app: ASGIApp, minimum_size: int = 500, compresslevel: int = 9) -> None:
        if not 0 <= compresslevel <= 9:
            raise ValueError(f"compresslevel must be between 0 and 9, got {compresslevel!r}")
        if minimum_size < 0:
            raise ValueError(f"minimum_size must be >= 0, got {minimum_size!r}")
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepts = False
        for key, value in scope["headers"]:
            if key == b"accept-encoding":
                accepts = _accepts_gzip(value)
                break
        if not accepts:
            await self.app(scope, receive, _vary_only(send))
            return
        await self.app(scope, receive, _GZipSender(send, self.minimum_size, self.compresslevel))


def _vary_only(send: Send) -> Send:
    """Mark compressible responses with Vary even when this client did not ask for gzip."""

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start" and _compressible(message):
            headers = list(message.get("headers", ()))
            _add_vary(headers)
            message["headers"] = headers
        await send(message)

    return sender


class _GZipSender:
    """The wrapped `send` of one request: holds the start message until the first body chunk.

    Waiting for the first chunk is what lets a small, complete body go out uncompressed and a
    complete large body get an exact Content-Length.
    """

    __slots__ = ("_compressor", "_level", "_minimum", "_send", "_start", "_state")

    def __init__(self, send: Send, minimum_size: int, level: int) -> None:
        self._send = send
        self._minimum = minimum_size
        self._level = level
        self._start: Message | None = None
        # "start": waiting for the first body; "gzip": compressing; "pass": untouched.
        self._state = "start"
        self._compressor: zlib._Compress | None = None

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if self._state == "pass":
            await self._send(message)
            return
        if kind == "http.response.start":
            if _compressible(message):
                self._start = message
            else:
                self._state = "pass"
                await self._send(message)
            return
        if self._state == "gzip":
            if kind == "http.response.body":
                await self._send_compressed(message)
            else:
                await self._send(message)
            return
        # First message after a held start.
        start = self._start
        if start is None:  # a misbehaving app: nothing we can safely rewrite
            self._state = "pass"
            await self._send(message)
            return
        headers: Headers = list(start.get("headers", ()))
        _add_vary(headers)
        body: bytes = message.get("body", b"") if kind == "http.response.body" else b""
        more = bool(message.get("more_body", False)) if kind == "http.response.body" else True
        if kind != "http.response.body" or (not more and len(body) < self._minimum):
            self._state = "pass"
            start["headers"] = headers
            await self._send(start)
            await self._send(message)
            return
        self._state = "gzip"
        self._compressor = zlib.compressobj(self._level, zlib.DEFLATED, 31)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-encoding", b"gzip"))
        if not more:
            data = self._compressor.compress(body) + self._compressor.flush(zlib.Z_FINISH)
            headers.append((b"content-length", str(len(data)).encode()))
            start["headers"] = headers
            await self._send(start)
            await self._send({"type": "http.response.body", "body": data})
            return
        start["headers"] = headers
        await self._send(start)
        await self._send_compressed(message)

    async def _send_compressed(self, message: Message) -> None:
        compressor = self._compressor
        if compressor is None:  # pragma: no cover - only reachable in state "gzip"
            raise RuntimeError("gzip compressor missing")
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        data = compressor.compress(body)
        data += compressor.flush(zlib.Z_SYNC_FLUSH if more else zlib.Z_FINISH)
        await self._send({"type": "http.response.body", "body": data, "more_body": more})
