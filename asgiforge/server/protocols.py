"""uvicorn's two HTTP/1.1 protocols, hardened: head limits, a header-read deadline, strict framing.

uvicorn (0.54) leaves several hostile-input cases open, measured by ``tests/security`` and
listed in SECURITY.md:

* no deadline while a request head is being read, so a client sending one header line every
  few seconds (slowloris) holds a connection, and a worker's capacity, forever;
* with httptools, no limit at all on the request line, a header's size or the number of
  headers (llhttp streams them; uvicorn and httptools buffer them in memory), and no limit on
  chunk-extension bytes, which never count as body;
* with httptools, duplicate or missing ``Host`` is accepted; with both, a ``Host`` such as
  ``evil.com/admin?`` reaches the app and becomes ``request.url``;
* with h11, ``Content-Length`` together with ``Transfer-Encoding`` is accepted (the request
  smuggling pattern), as are bare-LF line endings, obs-fold continuation lines, duplicate
  identical ``Content-Length`` headers and request targets without a leading ``/``.

The subclasses below add one check per case, in the protocol, before a scope exists, so a
refused request never reaches the application (or its middleware, or the access log), and every
refusal closes the connection, which is the only safe answer once framing is in doubt.
Everything else (parsing, flow control, keep-alive, WebSocket upgrade) is uvicorn's own code.
"""

from __future__ import annotations

import asyncio
import http
import logging
from typing import TYPE_CHECKING, Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from asgiforge.runtime.middleware.trustedhost import parse_host
from asgiforge.server.options import HeadLimits

# What the mixin's super() calls reach at run time is uvicorn's protocol; for the type checker,
# asyncio's protocol interface.
if TYPE_CHECKING:
    _ProtocolBase = asyncio.Protocol
else:
    _ProtocolBase = object

__all__ = ["HeadLimits", "Rejection", "check_head", "protocol_class"]

logger = logging.getLogger("uvicorn.error")

# Seconds a connection stays half-closed, discarding input, after a response that did not wait
# for the request body (long enough for the client to read the response, short for a flood).
LINGER = 2.0


class Rejection(Exception):
    """A request refused by a check here: the status to answer with and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_head(
    method: bytes,
    target: bytes,
    http_version: bytes,
    headers: list[tuple[bytes, bytes]],
    limits: HeadLimits,
) -> None:
    """Raise `Rejection` for a complete request head we will not serve (names lower-cased).

    The checks both parsers need; each parser's own gaps are closed in its subclass.
    """
    if len(target) > limits.max_request_line:
        raise Rejection(414, "Request target too long")
    if len(headers) > limits.max_headers:
        raise Rejection(431, "Too many header fields")
    hosts: list[bytes] = []
    lengths = 0
    codings: list[bytes] = []
    total = len(target)
    for name, value in headers:
        size = len(name) + len(value)
        if size > limits.max_header_size:
            raise Rejection(431, "Header field too large")
        total += size + 4  # ": " and CRLF
        if name == b"host":
            hosts.append(value)
        elif name == b"content-length":
            lengths += 1
        elif name == b"transfer-encoding":
            codings += [c.strip().lower() for c in value.split(b",") if c.strip()]
    if total > limits.max_head_size:
        raise Rejection(431, "Request head too large")
    # Origin-form only ("/path?query"), or "*" for OPTIONS. Absolute-form and authority-form
    # are for proxies; taken as a path they route one thing and build a URL of another.
    if not target.startswith(b"/") and not (target == b"*" and method == b"OPTIONS"):
        raise Rejection(400, "Request target must start with '/'")
    if len(hosts) > 1:
        raise Rejection(400, "Duplicate Host header")
    if not hosts and http_version != b"1.0":
        raise Rejection(400, "Missing Host header")
    if hosts and parse_host(hosts[0].decode("latin-1")) is None:
        raise Rejection(400, "Invalid Host header")
    if lengths > 1:
        raise Rejection(400, "Duplicate Content-Length header")
    if codings:
        # RFC 9112 §6.1: with both, Transfer-Encoding wins, and a front server that picked
        # Content-Length would see a different request boundary: the smuggling pattern.
        if lengths:
            raise Rejection(400, "Content-Length with Transfer-Encoding")
        if http_version == b"1.0":
            raise Rejection(400, "Transfer-Encoding in an HTTP/1.0 request")
        if codings[-1] != b"chunked":
            raise Rejection(400, "Transfer-Encoding must end with chunked")


def _reject_bytes(status: int, reason: str) -> bytes:
    phrase = http.HTTPStatus(status).phrase
    body = reason.encode("ascii", "replace")
    return (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode("ascii") + body


class _Hardening(_ProtocolBase):
    """Mixin before uvicorn's protocol: the header-read deadline, and closing after a response
    that left a body unread.

    The deadline is armed when the connection opens and after each response, and disarmed
    when a head is complete (from then on the application owns the pace, e.g. of a slow
    upload). If it fires while a request is in flight (a pipelined head arriving during a long
    response) it does nothing.

    uvicorn keeps a connection open after answering a request whose body it has not read (a
    413 before a 10 GB upload) and silently discards the rest, for as long as the client keeps
    sending. Here the connection is half-closed instead (the client sees the response, then
    EOF), what still arrives is dropped unparsed for `LINGER` seconds, then it is closed.
    """

    limits: HeadLimits
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _deadline: asyncio.TimerHandle | None
    _lingering: bool

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def _after_response(self, *, body_unread: bool) -> None:
        """After each response: linger out an unread body, else wait for the next head."""
        if self.transport.is_closing():
            return
        if body_unread:
            self._finish_unread_body()
        else:
            self._arm_deadline()

    def _finish_unread_body(self) -> None:
        self._lingering = True
        self._disarm_deadline()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._deadline = self.loop.call_later(self.limits.header_timeout, self._deadline_passed)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return
        logger.info("closing a connection that sent no complete request head in time")
        self.transport.close()

    def _send_rejection(self, rejection: Rejection) -> None:
        self._disarm_deadline()
        logger.warning("refused a request: %s (%d)", rejection.reason, rejection.status)
        if not self.transport.is_closing():
            self.transport.write(_reject_bytes(rejection.status, rejection.reason))
            self.transport.close()


class _GuardedH11Connection(h11.Connection):
    """h11's server connection plus the raw-head checks h11 itself is lenient about."""

    def __init__(self, limits: HeadLimits) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limits.max_head_size)
        self.limits = limits
        self.heads = 0
        self.rejection: Rejection | None = None
        self._new_line = False

    def receive_data(self, data: bytes) -> None:
        if b"\n" in data:
            self._new_line = True
        super().receive_data(data)

    def next_event(self) -> Any:
        try:
            if self.their_state is h11.IDLE and self._new_line:
                # Only when a line ended since the last look: the copy below stays rare.
                self._new_line = False
                self._check_raw_head(self.trailing_data[0])
            idle = self.their_state is h11.IDLE
            try:
                event = super().next_event()
            except h11.RemoteProtocolError as exc:
                if idle and exc.error_status_hint == 431 and b"\n" not in self.trailing_data[0]:
                    raise Rejection(414, "Request line too long") from exc
                raise Rejection(
                    431 if exc.error_status_hint == 431 else 400, "Invalid HTTP request"
                ) from exc
            if isinstance(event, h11.Request):
                self.heads += 1
                check_head(
                    event.method,
                    event.target,
                    event.http_version,
                    list(event.headers),
                    self.limits,
                )
            return event
        except Rejection as rejection:
            self.rejection = rejection
            raise h11.RemoteProtocolError(rejection.reason, rejection.status) from rejection

    def _check_raw_head(self, buffer: bytes) -> None:
        end = buffer.find(b"\n\r\n")
        bare_end = buffer.find(b"\n\n")
        if bare_end != -1 and (end == -1 or bare_end < end):
            raise Rejection(400, "Bare LF in request head")
        if end == -1:
            return
        head = buffer[: end + 1]
        if head.count(b"\n") != head.count(b"\r\n"):
            raise Rejection(400, "Bare LF in request head")
        lines = head.split(b"\r\n")[1:]
        lengths = 0
        for line in lines:
            if line[:1] in (b" ", b"\t"):
                raise Rejection(400, "Obsolete line folding in request head")
            if line.split(b":", 1)[0].strip().lower() == b"content-length":
                lengths += 1
        if lengths > 1:
            raise Rejection(400, "Duplicate Content-Length header")


class GuardedH11Protocol(_Hardening, H11Protocol):
    """uvicorn's h11 protocol with `HeadLimits`, the deadline and strict framing."""

    limits = HeadLimits()

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = self.guarded = _GuardedH11Connection(self.limits)
        self._deadline = None
        self._lingering = False

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        heads = self.guarded.heads
        super().data_received(data)
        if self.guarded.heads != heads:
            self._disarm_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._after_response(body_unread=self.conn.their_state is h11.SEND_BODY)

    def send_400_response(self, msg: str) -> None:
        rejection = self.guarded.rejection or Rejection(400, msg)
        self._send_rejection(rejection)


def _httptools_class() -> type[asyncio.Protocol]:
    """Defined on demand: httptools is optional in uvicorn (`uvicorn[standard]` brings it)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(_Hardening, HttpToolsProtocol):
        """uvicorn's httptools protocol with `HeadLimits`, the deadline, Host checks and a cap
        on chunk-extension bytes."""

        limits = HeadLimits()

        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self._deadline = None
            self._lingering = False
            self._rejection: Rejection | None = None
            self._in_head = False
            self._in_body = False
            self._head_bytes = 0
            self._header_count = 0
            self._body_bytes = 0
            self._overhead = 0
            self._chunks = 0
            self._completed = False

        def data_received(self, data: bytes) -> None:
            if self._lingering:
                return
            in_head, in_body = self._in_head, self._in_body
            body_before = self._body_bytes
            self._completed = False
            super().data_received(data)
            if self.transport.is_closing() or self._completed:
                return
            limits = self.limits
            if in_head and self._in_head:
                # Counted from the second read of a head on: at most one read (256 KiB) more
                # than the limit is ever buffered, and no body byte is mistaken for head.
                self._head_bytes += len(data)
                if self._head_bytes > limits.max_head_size:
                    # The target alone is capped far lower (on_url): the rest is header bytes.
                    self._send_rejection(Rejection(431, "Request head too large"))
            elif in_body and self._in_body:
                self._overhead += len(data) - (self._body_bytes - body_before)
                if self._overhead > limits.max_chunk_overhead * (self._chunks + 1):
                    self._send_rejection(Rejection(400, "Chunk extensions too large"))

        def send_400_response(self, msg: str) -> None:
            self._send_rejection(self._rejection or Rejection(400, msg))

        def _refuse(self, status: int, reason: str) -> None:
            self._rejection = Rejection(status, reason)
            raise self._rejection

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._in_body = True, False
            self._head_bytes = self._header_count = 0

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            if len(self.url) > self.limits.max_request_line:
                self._refuse(414, "Request target too long")

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_count += 1
            if self._header_count > self.limits.max_headers:
                self._refuse(431, "Too many header fields")
            if len(name) + len(value) > self.limits.max_header_size:
                self._refuse(431, "Header field too large")
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._disarm_deadline()
            self._in_head, self._in_body = False, True
            self._body_bytes = self._overhead = self._chunks = 0
            parser = self.parser
            try:
                check_head(
                    parser.get_method(),
                    self.url,
                    parser.get_http_version().encode("ascii"),
                    self.headers,
                    self.limits,
                )
            except Rejection as rejection:
                self._rejection = rejection
                raise
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            self._body_bytes += len(body)
            super().on_body(body)

        def on_chunk_header(self) -> None:
            self._chunks += 1

        def on_message_complete(self) -> None:
            self._in_body = False
            self._completed = True
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._after_response(body_unread=self._in_body)

    return GuardedHttpToolsProtocol


def protocol_class(http: str, limits: HeadLimits) -> type[asyncio.Protocol]:
    """The hardened protocol class for ``--http`` (``auto``: httptools when installed)."""
    base: type[asyncio.Protocol]
    if http == "h11":
        base = GuardedH11Protocol
    else:
        try:
            base = _httptools_class()
        except ImportError:
            if http == "httptools":
                raise
            base = GuardedH11Protocol
    # A subclass per limits, so uvicorn (which builds protocols itself) hands them over.
    return type(base.__name__, (base,), {"limits": limits, "__module__": __name__})
