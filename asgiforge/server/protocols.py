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
Everything else (parsing, flow control, WebSocket upgrade) is uvicorn's own code; its
keep-alive timeout is kept with the same timing by the header-deadline timer (`_Hardening`).
"""

from __future__ import annotations

import asyncio
import functools
import http
import logging
from typing import TYPE_CHECKING, Any

import h11

from asgiforge.runtime.middleware.trustedhost import parse_host
from asgiforge.server._uvicorn import (
    Config,
    H11Protocol,
    ServerState,
    disconnect,
    httptools_protocol,
    start_cycle,
)
from asgiforge.server.options import HeadLimits
from asgiforge.server.pathsend import advertise, h11_with_pathsend, httptools_headers_complete
from asgiforge.server.proxy_headers import PROXY_NAMES, ProxyHeaders

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


# Header names the pass over a head looks at: the framing checks' and the proxy headers (whose
# presence is all it notes, `_PROXIED`); every other header only counts towards the size limits.
_FRAMING_NAMES = frozenset((b"host", b"content-length", b"transfer-encoding")) | PROXY_NAMES


class Rejection(Exception):
    """A request refused by a check here: the status to answer with and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@functools.lru_cache(maxsize=1024)
def _valid_host(value: bytes) -> bool:
    """Whether a Host value is a plain host[:port]; cached, as a worker sees few distinct ones.

    The cache is bounded, and a miss only costs the regular expression it saves.
    """
    return parse_host(value.decode("latin-1")) is not None


# What `_check_framing` leaves to the HTTP version (a missing Host, a chunked body), and whether
# the head holds a proxy header, for `ProxyHeaders.rewrite`.
_NO_HOST = 1
_CHUNKED = 2
_PROXIED = 4
_VERSIONED = _NO_HOST | _CHUNKED


def check_head(
    method: bytes,
    target: bytes,
    http_version: bytes,
    headers: list[tuple[bytes, bytes]],
    limits: HeadLimits,
) -> bool:
    """Raise `Rejection` for a complete request head we will not serve (names lower-cased).

    Returns whether the body is chunked. The checks both parsers need; each parser's own gaps
    are closed in its subclass.
    """
    return bool(_head_flags(method, target, http_version, headers, limits) & _CHUNKED)


def _head_flags(
    method: bytes,
    target: bytes,
    http_version: bytes,
    headers: list[tuple[bytes, bytes]],
    limits: HeadLimits,
) -> int:
    """`check_head`, returning the `_CHUNKED` and `_PROXIED` flags of an accepted head."""
    _check_sizes(target, headers, limits)
    flags = _check_framing(
        target, target == b"*" and method == b"OPTIONS", headers, limits.max_body_size
    )
    if flags & _VERSIONED:
        _check_version(flags, http_version)
    return flags


def _check_sizes(target: bytes, headers: list[tuple[bytes, bytes]], limits: HeadLimits) -> None:
    """The size limits (414 / 431), in one pass over the header list."""
    if len(target) > limits.max_request_line:
        raise Rejection(414, "Request target too long")
    if len(headers) > limits.max_headers:
        raise Rejection(431, "Too many header fields")
    field_limit = limits.max_header_size
    total = len(target) + 4 * len(headers)  # ": " and CRLF per field
    for name, value in headers:
        size = len(name) + len(value)
        if size > field_limit:
            raise Rejection(431, "Header field too large")
        total += size
    if total > limits.max_head_size:
        raise Rejection(431, "Request head too large")


def _fast_read_limit(limits: HeadLimits) -> int:
    """The largest read that cannot hold a head over any size limit, once its header count is
    within `max_headers`: so a head that arrived whole in such a read skips `_check_sizes`.

    A head's bytes bound its target and each field; `_check_sizes` counts 4 bytes of framing
    per field where a head has at least 2 (``:`` and LF), hence the margin.
    """
    return min(
        limits.max_request_line,
        limits.max_header_size,
        limits.max_head_size - 2 * limits.max_headers,
    )


def _check_framing(
    target: bytes, star_ok: bool, fields: list[tuple[bytes, bytes]], max_body: int | None
) -> int:
    """The target form and the Host / Content-Length / Transfer-Encoding checks that need
    neither the method nor the HTTP version; returns the `_NO_HOST` / `_CHUNKED` flags for
    `_check_version`. `fields` may hold only the framing headers (names lower-cased);
    `star_ok`: the target is ``*`` and the method OPTIONS; `max_body`: the declared length
    beyond which the request is refused with 413 (None: no limit). `_PROXIED` is set when a
    proxy header is present.
    """
    host: bytes | None = None
    length = b""
    hosts = lengths = 0
    encodings: list[bytes] | None = None
    proxied = 0
    for name, value in fields:
        if name in _FRAMING_NAMES:
            if name == b"host":
                hosts += 1
                host = value
            elif name == b"content-length":
                lengths += 1
                length = value
            elif name != b"transfer-encoding":
                proxied = _PROXIED
            elif encodings is None:
                encodings = [value]
            else:
                encodings.append(value)
    # Origin-form only ("/path?query"), or "*" for OPTIONS. Absolute-form and authority-form
    # are for proxies; taken as a path they route one thing and build a URL of another.
    if target[:1] != b"/" and not star_ok:
        raise Rejection(400, "Request target must start with '/'")
    if hosts > 1:
        raise Rejection(400, "Duplicate Host header")
    if host is not None and not _valid_host(host):
        raise Rejection(400, "Invalid Host header")
    if lengths > 1:
        raise Rejection(400, "Duplicate Content-Length header")
    # Answered at once: the client need not send (nor the server wait for) the body.
    if max_body is not None and length.isdigit() and int(length) > max_body:
        raise Rejection(413, "Request body too large")
    flags = (_NO_HOST if host is None else 0) | proxied
    if encodings is None:
        return flags
    codings = [c.strip().lower() for value in encodings for c in value.split(b",") if c.strip()]
    if not codings:
        return flags
    # RFC 9112 §6.1: with both, Transfer-Encoding wins, and a front server that picked
    # Content-Length would see a different request boundary: the smuggling pattern.
    if lengths:
        raise Rejection(400, "Content-Length with Transfer-Encoding")
    if codings[-1] != b"chunked":
        raise Rejection(400, "Transfer-Encoding must end with chunked")
    return flags | _CHUNKED


def _check_version(flags: int, http_version: bytes) -> None:
    """The rest of `check_head` for a head with `_check_framing` flags in `_VERSIONED`."""
    if flags & _NO_HOST and http_version != b"1.0":
        raise Rejection(400, "Missing Host header")
    if flags & _CHUNKED and http_version == b"1.0":
        raise Rejection(400, "Transfer-Encoding in an HTTP/1.0 request")


def _reject_bytes(status: int, reason: str) -> bytes:
    phrase = http.HTTPStatus(status).phrase
    body = reason.encode("ascii", "replace")
    return (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode("ascii") + body


class _Hardening(_ProtocolBase):
    """Mixin before uvicorn's protocol: one timer per connection for both the header-read
    deadline and the keep-alive timeout, and closing after a response that left a body unread.

    The deadline runs from the connection's start, or from the end of the previous response,
    to a complete head; while a request is being served it does not apply (the application
    owns the pace, e.g. of a slow upload). The keep-alive timeout is uvicorn's: a connection
    that sends no byte for `timeout_keep_alive` seconds after a response is closed, silently.
    uvicorn arms and cancels a timer per request for it; here a request only records when
    the wait for the next head began (`_waiting_since`, None while a request is served) and
    whether a byte arrived since (`_idle`), plus, after a read that leaves a request body
    awaited, the time of that read (`_last_data`: no clock is read for a request without a
    body, the common case), and the one timer, when it fires, closes the
    connection if a limit is over or else sleeps until one would be, never longer than the
    shorter limit (`_timer_step`). So the keep-alive close comes when uvicorn's would, and a
    busy connection wakes its timer about once per keep-alive timeout.

    uvicorn keeps a connection open after answering a request whose body it has not read (a
    413 before a 10 GB upload) and silently discards the rest, for as long as the client keeps
    sending. Here the connection is half-closed instead (the client sees the response, then
    EOF), what still arrives is dropped unparsed for `LINGER` seconds, then it is closed.
    """

    limits: HeadLimits
    proxies: ProxyHeaders | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    timeout_keep_alive: int
    flow: Any
    _deadline: asyncio.TimerHandle | None
    _waiting_since: float | None
    _idle: bool
    _lingering: bool
    _last_data: float
    _body_bytes: int

    def _init_hardening(self) -> None:
        self._deadline = None
        self._waiting_since = None
        self._idle = False  # a fresh connection has the header deadline, not keep-alive
        self._lingering = False
        self._last_data = 0.0
        self._body_bytes = 0  # of the current chunked request body

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._waiting_since = self.loop.time()
        self._deadline = self.loop.call_later(self._timer_step(), self._check_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def _timer_step(self) -> float:
        limits = self.limits
        return min(limits.header_timeout, float(self.timeout_keep_alive), limits.body_timeout)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _begin_waiting(self) -> None:
        """A response is complete and nothing more is queued: wait for the next head."""
        self._waiting_since = self.loop.time()
        self._idle = True

    def _check_deadline(self) -> None:
        self._deadline = None
        transport = self.transport
        if transport.is_closing() or transport.get_protocol() is not self:
            return  # closed, or upgraded to a WebSocket: no more request heads here
        step = self._timer_step()
        since = self._waiting_since
        cycle = self.cycle
        if since is None or (cycle is not None and not cycle.response_complete):
            # A request is being served: its pace is the application's, except while its
            # body is awaited and nothing holds the client back (reading is not paused).
            delay = step
            if cycle is not None and cycle.more_body and self.flow.read_paused:
                self._last_data = self.loop.time()  # waiting on the app is not silence
            elif cycle is not None and cycle.more_body:
                silent = self.loop.time() - self._last_data
                timeout = self.limits.body_timeout
                if silent >= timeout:
                    logger.info("closing a connection whose request body stalled")
                    self._abort_request(cycle, Rejection(408, "Request body timeout"))
                    return
                delay = min(step, timeout - silent)
        else:
            now = self.loop.time()
            header_end = since + self.limits.header_timeout
            idle_end = since + self.timeout_keep_alive if self._idle else header_end
            if now >= idle_end and idle_end < header_end:
                transport.close()  # uvicorn's keep-alive timeout: silent, as uvicorn's is
                return
            if now >= header_end:
                logger.info("closing a connection that sent no complete request head in time")
                transport.close()
                return
            delay = min(min(idle_end, header_end) - now, step)
        self._deadline = self.loop.call_later(delay, self._check_deadline)

    def _count_body(self, cycle: Any, received: int) -> None:
        """`received` more bytes of a chunked body: 413 once it passes the body limit."""
        self._body_bytes += received
        limit = self.limits.max_body_size
        if limit is not None and self._body_bytes > limit:
            logger.warning("refused a request: chunked body over %d bytes (413)", limit)
            self._abort_request(cycle, Rejection(413, "Request body too large"))

    def _abort_request(self, cycle: Any, rejection: Rejection) -> None:
        """End a request the application is already serving: the client gets `rejection`
        (unless a response has begun), the application a disconnect, and the connection
        is closed."""
        self._stop_deadline()
        transport = self.transport
        if not transport.is_closing():
            if not cycle.response_started:
                transport.write(_reject_bytes(rejection.status, rejection.reason))
            transport.close()
        disconnect(cycle)

    def _finish_unread_body(self) -> None:
        self._lingering = True
        self._stop_deadline()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)

    def _send_rejection(self, rejection: Rejection) -> None:
        self._stop_deadline()
        logger.warning("refused a request: %s (%d)", rejection.reason, rejection.status)
        if not self.transport.is_closing():
            self.transport.write(_reject_bytes(rejection.status, rejection.reason))
            self.transport.close()


class _GuardedH11Connection(h11.Connection):
    """h11's server connection plus the raw-head checks h11 itself is lenient about.

    `_at_head` stands for ``their_state is IDLE`` (a property, asked up to four times a
    request otherwise): it is cleared by each `h11.Request` and set by `start_next_cycle`.
    """

    def __init__(self, limits: HeadLimits) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limits.max_head_size)
        self.limits = limits
        self.heads = 0
        self.rejection: Rejection | None = None
        self._new_line = False
        self._at_head = True
        self.chunked = False  # the current request's body
        self.proxied = False  # the current request's head holds a proxy header

    def receive_data(self, data: bytes) -> None:
        if b"\n" in data:
            self._new_line = True
        h11.Connection.receive_data(self, data)

    def start_next_cycle(self) -> None:
        h11.Connection.start_next_cycle(self)
        self._at_head = True
        # A pipelined head may already be buffered: scan it too before h11 parses it.
        self._new_line = True

    def next_event(self) -> Any:
        at_head = self._at_head
        try:
            if at_head and self._new_line:
                # Only when a line ended since the last look: the copy below stays rare.
                self._new_line = False
                self._check_raw_head(self.trailing_data[0])
            try:
                event = h11.Connection.next_event(self)
            except h11.RemoteProtocolError as exc:
                hint = exc.error_status_hint
                if at_head and hint == 431 and b"\n" not in self.trailing_data[0]:
                    raise Rejection(414, "Request line too long") from exc
                raise Rejection(431 if hint == 431 else 400, "Invalid HTTP request") from exc
            if type(event) is h11.Request:
                self._at_head = False
                self.heads += 1
                # h11 keeps (raw name, lower-cased name, value) per field; the public
                # iteration builds each pair through Sequence.__getitem__, several µs a head.
                # Private since h11 0.10, hence the public fallback should it ever go.
                full = getattr(event.headers, "_full_items", None)
                fields = (
                    [(name, value) for _, name, value in full]
                    if full is not None
                    else list(event.headers)
                )
                flags = _head_flags(
                    event.method, event.target, event.http_version, fields, self.limits
                )
                self.chunked = bool(flags & _CHUNKED)
                self.proxied = bool(flags & _PROXIED)
            return event
        except Rejection as rejection:
            self.rejection = rejection
            raise h11.RemoteProtocolError(rejection.reason, rejection.status) from rejection

    def _check_raw_head(self, buffer: bytes) -> None:
        """Bare LF, obs-fold and duplicate Content-Length, found by C-level scans of the head."""
        end = buffer.find(b"\n\r\n")
        bare_end = buffer.find(b"\n\n")
        if bare_end != -1 and (end == -1 or bare_end < end):
            raise Rejection(400, "Bare LF in request head")
        if end == -1:
            return
        head = buffer[: end + 1]
        if head.count(b"\n") != head.count(b"\r\n"):
            raise Rejection(400, "Bare LF in request head")
        if b"\n " in head or b"\n\t" in head:
            raise Rejection(400, "Obsolete line folding in request head")
        # h11 merges identical duplicates, so count them here. A name followed by spaces
        # before the colon is refused by h11 itself.
        if head.lower().count(b"\ncontent-length:") > 1:
            raise Rejection(400, "Duplicate Content-Length header")


_h11_data_received = H11Protocol.data_received


class GuardedH11Protocol(_Hardening, H11Protocol):
    """uvicorn's h11 protocol with `HeadLimits`, the deadline and strict framing.

    `data_received` calls uvicorn's, then adds the checks. `on_response_complete` is written
    in full: uvicorn's arms a keep-alive timer per response (measured: +15 µs of CPU a
    request), and `_Hardening` keeps that timeout with one timer per connection.
    """

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
        self._init_hardening()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        self._idle = False
        guarded = self.guarded
        heads = guarded.heads
        cycle = self.cycle
        before = len(cycle.body) if guarded.chunked and cycle is not None else -1
        _h11_data_received(self, data)  # uvicorn's: feeds h11, handles its events
        if guarded.heads != heads:
            self._waiting_since = None
            self._body_bytes = 0
            if guarded.proxied and self.proxies is not None:
                # The new request's scope, before its task first runs (it is only scheduled);
                # uvicorn types it as its own TypedDict.
                self.proxies.rewrite(self.scope)  # type: ignore[arg-type]
            if guarded.chunked and self.cycle is not None:
                self._count_body(self.cycle, len(self.cycle.body))
        elif before >= 0 and self.cycle is cycle:
            self._count_body(cycle, len(cycle.body) - before)
        cycle = self.cycle
        if cycle is not None and cycle.more_body:  # a body is awaited: its clock restarts
            self._last_data = self.loop.time()

    def on_response_complete(self) -> None:
        # Written in full (uvicorn's arms a keep-alive timer per response, which costs more
        # than the rest of this method; `_Hardening` keeps that timeout instead).
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        conn = self.guarded
        their_state = conn.their_state
        if their_state is h11.SEND_BODY:  # the request body was not read to its end
            self._finish_unread_body()
            return
        self._begin_waiting()
        if their_state is h11.DONE and conn.our_state is h11.DONE:
            # A request may be pipelined behind this one: h11 paused on it until now.
            heads = conn.heads
            conn.start_next_cycle()
            self.handle_events()
            if conn.heads != heads:
                self._waiting_since = None
                self._idle = False
                if conn.proxied and self.proxies is not None:
                    self.proxies.rewrite(self.scope)  # type: ignore[arg-type]

    def send_400_response(self, msg: str) -> None:
        rejection = self.guarded.rejection or Rejection(400, msg)
        self._send_rejection(rejection)


# Trailing whitespace llhttp leaves in a header value (one byte, as slices compare).
_OWS = frozenset((b" ", b"\t"))


def _strips_trailing_whitespace(protocol: Any) -> bool:
    """Whether this uvicorn's httptools `on_header` drops trailing whitespace from a value
    (RFC 9110 §5.5; h11 always has): asked of the method itself, once, not of a version."""

    class Probe:
        headers: list[tuple[bytes, bytes]]
        expect_100_continue = False

    probe = Probe()
    probe.headers = []
    protocol.on_header(probe, b"X", b"v \t")
    return bool(probe.headers == [(b"x", b"v")])


def _strip_values(headers: list[tuple[bytes, bytes]]) -> None:
    """Drop trailing whitespace from every header value, in place, for a uvicorn whose
    `on_header` keeps it: so the application sees the same values under h11 and httptools."""
    for index, (name, value) in enumerate(headers):
        if value[-1:] in _OWS:
            headers[index] = (name, value.rstrip(b" \t"))


def _httptools_class() -> type[asyncio.Protocol]:
    """Defined on demand: httptools is optional in uvicorn (`uvicorn[standard]` brings it)."""
    HttpToolsProtocol: Any = httptools_protocol()
    # uvicorn's, creating cycles that take http.response.pathsend (asgiforge.server.pathsend).
    headers_complete = httptools_headers_complete(HttpToolsProtocol)
    strips = _strips_trailing_whitespace(HttpToolsProtocol)
    data_received = HttpToolsProtocol.data_received

    class GuardedHttpToolsProtocol(_Hardening, HttpToolsProtocol):  # type: ignore[misc]
        """uvicorn's httptools protocol with `HeadLimits`, the deadline, Host checks and a cap
        on chunk-extension bytes.

        Every override but `on_response_complete` (written in full: uvicorn's arms a
        keep-alive timer per response, +15 µs of CPU a request) calls uvicorn's method, then
        adds its checks. `_check_framing` reads the framing headers in one pass over the
        complete head. A head that arrived whole in one read of at most `_fast_read_limit`
        bytes cannot exceed a size limit, so only its header count is checked; other heads
        get `_check_sizes` once complete, and a head spanning reads is checked after each
        read (`_head_continues`), so what one connection buffers stays within one read
        (uvloop: 256 KiB) plus the limits. Chunked bodies, which are rare, take the slower
        `_read_chunked` path that caps the framing bytes (and counts the body against
        ``max_body_size``).
        """

        limits = HeadLimits()

        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self._init_hardening()
            self._rejection: Rejection | None = None
            self._fast_read = _fast_read_limit(self.limits)
            self._read_size = 0
            # The scope of a head that spans reads, and its bytes from its second read on.
            self._head_scope: Any = None
            self._head_bytes = 0
            # A chunked request body is being read: its chunk count and framing bytes.
            self._chunked = False
            self._chunks = 0
            self._overhead = 0

        def data_received(self, data: bytes) -> None:
            if self._lingering:
                return
            self._idle = False
            self._read_size = len(data)
            if self._chunked:
                self._read_chunked(data)
            else:
                data_received(self, data)  # uvicorn's, as `_parse` (one call less per read)
                if self._chunked and self.cycle is not None:  # body bytes read with the head
                    self._count_body(self.cycle, len(self.cycle.body))
                scope = self.scope
                if scope is not None and "method" not in scope:
                    self._head_continues(scope, data)
            cycle = self.cycle
            if cycle is not None and cycle.more_body:  # a body is awaited: its clock restarts
                self._last_data = self.loop.time()

        def _parse(self, data: bytes) -> None:
            """uvicorn's `data_received`: feeds llhttp, answers parser errors, upgrades."""
            data_received(self, data)

        def _head_continues(self, scope: Any, data: bytes) -> None:
            """After a read that ended inside a head: the limits on what is buffered so far."""
            if self.transport.is_closing():
                return
            limits = self.limits
            if len(self.url) > limits.max_request_line:
                self._send_rejection(Rejection(414, "Request target too long"))
            elif len(self.headers) > limits.max_headers:
                self._send_rejection(Rejection(431, "Too many header fields"))
            elif scope is not self._head_scope:
                # The first read of this head (it may also hold the end of the previous
                # message) is not counted: at most one read more than the limit is buffered.
                self._head_scope = scope
                self._head_bytes = 0
            else:
                self._head_bytes += len(data)
                if self._head_bytes > limits.max_head_size:
                    self._send_rejection(Rejection(431, "Request head too large"))

        def _read_chunked(self, data: bytes) -> None:
            """A read while a chunked body streams in: cap the bytes that are not body."""
            cycle = self.cycle
            if cycle is None:  # a chunked upgrade request: no body is read here
                self._chunked = False
                self.data_received(data)
                return
            before = len(cycle.body)
            self._parse(data)
            if self.transport.is_closing():
                return
            if self.cycle is cycle:
                received = len(cycle.body) - before
                self._count_body(cycle, received)
                if self.transport.is_closing():
                    return
                if cycle.more_body:
                    self._overhead += len(data) - received
                    if self._overhead > self.limits.max_chunk_overhead * (self._chunks + 1):
                        self._send_rejection(Rejection(400, "Chunk extensions too large"))
                    return
                self._chunked = False
            scope = self.scope
            if "method" not in scope:
                self._head_continues(scope, data)

        def send_400_response(self, msg: str) -> None:
            self._send_rejection(self._rejection or Rejection(400, msg))

        def on_headers_complete(self) -> None:
            self._waiting_since = None
            url = self.url
            headers = self.headers
            limits = self.limits
            if not strips:
                _strip_values(headers)
            try:
                if len(headers) > limits.max_headers:
                    raise Rejection(431, "Too many header fields")
                if self._read_size > self._fast_read or self._head_scope is self.scope:
                    _check_sizes(url, headers, limits)
                # The method and version are asked of the parser only in the rare cases that
                # need them (each call costs about as much as the checks).
                flags = _check_framing(
                    url,
                    url == b"*" and self.parser.get_method() == b"OPTIONS",
                    headers,  # `_check_framing` looks only at the framing names
                    limits.max_body_size,
                )
                if flags & _VERSIONED:
                    _check_version(flags, self.parser.get_http_version().encode("ascii"))
            except Rejection as rejection:
                self._rejection = rejection
                raise
            chunked = self._chunked = bool(flags & _CHUNKED)
            if chunked:
                self._chunks = self._overhead = self._body_bytes = 0
            scope = self.scope
            if flags & _PROXIED and self.proxies is not None:
                self.proxies.rewrite(scope)
            advertise(scope)
            headers_complete(self)  # uvicorn's, creating a cycle that takes pathsend

        def on_chunk_header(self) -> None:
            self._chunks += 1

        def on_response_complete(self) -> None:
            # Written in full (uvicorn's arms a keep-alive timer per response, which costs
            # more than the rest of this method; `_Hardening` keeps that timeout instead).
            self.server_state.total_requests += 1
            if self.transport.is_closing():
                return
            self.flow.resume_reading()
            pipeline = self.pipeline
            if pipeline:
                # The next request was read (so this one's body was, to its end): start it.
                cycle, app = pipeline.pop()
                start_cycle(self, cycle, app)
            elif self.cycle.more_body:  # the request body was not read to its end
                self._finish_unread_body()
            else:  # `_begin_waiting`, inline: a call less on every keep-alive request
                self._waiting_since = self.loop.time()
                self._idle = True

    return GuardedHttpToolsProtocol


def protocol_class(
    http: str, limits: HeadLimits, proxies: ProxyHeaders | None = None
) -> type[asyncio.Protocol]:
    """The hardened protocol class for ``--http`` (``auto``: httptools when installed), which
    rewrites each request's scope with `proxies` when its head holds a proxy header."""
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
    if base is GuardedH11Protocol:  # http.response.pathsend (asgiforge.server.pathsend)
        base = h11_with_pathsend(base)
    # A subclass per limits, so uvicorn (which builds protocols itself) hands them over.
    attributes = {"limits": limits, "proxies": proxies, "__module__": __name__}
    return type(base.__name__, (base,), attributes)
