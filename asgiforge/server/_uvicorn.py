"""The one place that reaches into uvicorn's internals; everything else in `server/` uses this.

uvicorn's public API is `Config`, `Server` and `run`. Serving the way `asgiforge serve` does
(draining without losing requests, ending streams when a worker drains, hardened protocols)
needs more than that: the connection objects in `ServerState`, their request-response cycles,
the protocol classes and the loop/protocol tables. Each such use is a function or a name here,
so a new uvicorn release that moves something breaks this module and its tests
(`tests/server/test_uvicorn.py`, run by CI against the lowest and the highest uvicorn
of the declared range), not code spread over the package.

Cycle attributes read here, the same on both HTTP protocols since uvicorn 0.30:
``response_started``, ``response_complete``, ``disconnected``, ``message_event``,
``default_headers``, ``transport``; the httptools cycle's ``chunked_encoding``; the h11 cycle's
``conn`` (an `h11.Connection`).
"""

from __future__ import annotations

import asyncio
import functools
import types
from collections.abc import Callable, Iterable
from typing import Any

import h11
from uvicorn import config as _config
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import Server, ServerState

__all__ = [
    "Config",
    "H11Protocol",
    "Server",
    "ServerState",
    "body_framing",
    "bounded_ws_protocol",
    "disconnect",
    "end_streams",
    "finish_response",
    "httptools_protocol",
    "in_flight",
    "pending_cycles",
    "preimport_names",
    "set_shutdown_timeout",
    "shutdown_connections",
    "start_cycle",
    "swap_app",
    "with_cycle_class",
]


def httptools_protocol() -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol class; ImportError when httptools is not installed."""
    import httptools  # noqa: F401  (uvicorn's module imports it lazily on some versions)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    return HttpToolsProtocol


def preimport_names(http: str, ws: str, loop: str) -> list[str]:
    """The modules uvicorn will import for these ``--http``/``--ws``/``--loop`` choices."""
    names = ["uvicorn.server", "uvicorn.lifespan.on", "uvicorn.middleware.proxy_headers"]
    # LOOP_FACTORIES (0.36+) replaced LOOP_SETUPS; either maps a choice to "module:attr".
    loops = getattr(_config, "LOOP_FACTORIES", None) or getattr(_config, "LOOP_SETUPS", {})
    for table, key in ((_config.HTTP_PROTOCOLS, http), (_config.WS_PROTOCOLS, ws), (loops, loop)):
        spec = table.get(key)
        if isinstance(spec, str):
            names.append(spec.partition(":")[0])
    if http == "auto":
        names += ["httptools", "uvicorn.protocols.http.httptools_impl"]
    if loop == "auto":
        names.append("uvloop")
    return names


def swap_app(
    config: Config, connections: Iterable[Any], wrap: Any, header: tuple[bytes, bytes]
) -> None:
    """Serve ``wrap(app)`` from now on: to connections made later (`Config.loaded_app`) and to
    requests read later on open HTTP connections (each connection's ``app``); requests already
    read but not yet answered get `header` added to their response instead."""
    app = wrap(config.loaded_app)
    config.loaded_app = app
    for connection in connections:
        if not hasattr(connection, "cycle"):
            continue  # not an HTTP connection
        connection.app = app
        for cycle in pending_cycles(connection):
            cycle.default_headers = [*cycle.default_headers, header]


def shutdown_connections(state: ServerState) -> None:
    """uvicorn's per-connection shutdown: idle keep-alive connections close, busy ones after
    their response, WebSockets get 1012."""
    for connection in list(state.connections):
        connection.shutdown()


def bounded_ws_protocol(
    ws: str, max_unread: int, wrap_app: Callable[[Any], Any] | None = None
) -> type[asyncio.Protocol] | str:
    """uvicorn's WebSocket protocol for ``--ws``, reading paused while the client leaves more
    than `max_unread` bytes of our output unread, and running ``wrap_app(app)`` for each
    connection when given; `ws` itself when there is no class to wrap.

    uvicorn's WebSocket protocols answer each ping with a pong written at once, whatever the
    transport already holds: a client that sends pings and never reads grows the worker
    without bound (400,000 pings: +46 MiB). Pausing reading is TCP's own backpressure: the
    client's sends block until it reads. Reading resumes when the transport reports its buffer
    drained (`resume_writing`, which follows `pause_writing`: the threshold is never below the
    transport's high-water mark).
    """
    from uvicorn.importer import import_from_string

    spec = _config.WS_PROTOCOLS.get(ws, ws)
    if spec is None:
        return ws
    try:
        base = import_from_string(spec)
    except Exception:  # a missing library: let uvicorn report it as it does
        return ws
    if base is None:  # "auto" with neither websockets nor wsproto installed
        return ws

    class BoundedOutput(base):  # type: ignore[misc, valid-type]
        _af_held = False
        app: Any

        if wrap_app is not None:

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.app = wrap_app(self.app)  # each protocol sets `app` from `Config.loaded_app`

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            transport = self.transport
            if (
                not self._af_held
                and transport.get_write_buffer_size()
                > max(max_unread, transport.get_write_buffer_limits()[1])
                and not transport.is_closing()
            ):
                self._af_held = True
                transport.pause_reading()

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._af_held:
                self._af_held = False
                if not self.transport.is_closing():
                    self.transport.resume_reading()

    BoundedOutput.__name__ = BoundedOutput.__qualname__ = f"Bounded{base.__name__}"
    return BoundedOutput


def start_cycle(protocol: Any, cycle: Any, app: Any) -> None:
    """Run a pipelined request's cycle as uvicorn does: its `_start_asgi_task` where it has
    one (added after 0.36, with opt-in context isolation), else the same task without it."""
    start = getattr(protocol, "_start_asgi_task", None)
    if start is not None:
        start(cycle, app)
        return
    task = protocol.loop.create_task(cycle.run_asgi(app))
    task.add_done_callback(protocol.tasks.discard)
    protocol.tasks.add(task)


def pending_cycles(connection: Any) -> list[Any]:
    """The request cycles of an HTTP connection that have not started a response (the current
    one and any pipelined behind it); [] for other connections (WebSockets)."""
    cycles = [getattr(connection, "cycle", None)]
    cycles += [cycle for cycle, _app in getattr(connection, "pipeline", ())]
    return [cycle for cycle in cycles if cycle is not None and not cycle.response_started]


def in_flight(connections: Iterable[Any]) -> int:
    """Requests read on HTTP connections whose response is not complete."""
    count = 0
    for connection in connections:
        cycle = getattr(connection, "cycle", None)
        if cycle is not None and not cycle.response_complete:
            count += 1
    return count


def set_shutdown_timeout(config: Config, seconds: float) -> None:
    """What uvicorn's shutdown gives running tasks before cancelling them.

    Annotated ``int`` in uvicorn but used only as a delay, so a fraction of a second keeps the
    user's ``--graceful-timeout`` exact instead of rounding it up.
    """
    config.timeout_graceful_shutdown = seconds  # type: ignore[assignment]


def _is_stream(cycle: Any) -> bool:
    """Whether a started response has no declared length: chunked, or ended by closing."""
    chunked = getattr(cycle, "chunked_encoding", None)
    if chunked is not None:  # httptools
        return bool(chunked)
    conn = getattr(cycle, "conn", None)
    writer = getattr(conn, "_writer", None)  # h11: which framing the response got
    return writer is not None and type(writer).__name__ != "ContentLengthWriter"


def end_streams(state: ServerState) -> int:
    """Tell every application streaming a response without a declared length that the client
    is gone, then end that response properly once the application returns; the count.

    For the application this is a client disconnect (``receive()`` answers
    ``http.disconnect``, so `Request.is_disconnected()` turns true and a `StreamingResponse`
    stops its iterator), which is what a draining worker needs: a server-sent-events stream
    never finishes by itself. uvicorn then drops what the application still sends and logs no
    error for a response left incomplete by a disconnect; the chunked terminator (or h11's end of
    message) is written here when the application's task is done, and the connection closed,
    so the client sees a complete response and reconnects elsewhere.

    Responses with a Content-Length are finite and left to finish within the graceful timeout.
    """
    ending: dict[int, Any] = {}
    for connection in state.connections:
        cycle = getattr(connection, "cycle", None)
        if (
            cycle is not None
            and cycle.response_started
            and not cycle.response_complete
            and not cycle.disconnected
            and _is_stream(cycle)
        ):
            ending[id(cycle)] = cycle
    if not ending:
        return 0
    # Each request runs as a task of ``cycle.run_asgi(app)``: the coroutine's ``self``.
    for task in state.tasks:
        frame = getattr(task.get_coro(), "cr_frame", None)
        owner = frame.f_locals.get("self") if frame is not None else None
        if owner is not None and id(owner) in ending:
            task.add_done_callback(functools.partial(_finish_stream, owner))
    for cycle in ending.values():
        disconnect(cycle)
    return len(ending)


def disconnect(cycle: Any) -> None:
    """What uvicorn does for a request whose client left: ``receive()`` answers
    ``http.disconnect`` from now on and what the application sends is dropped."""
    cycle.disconnected = True
    cycle.message_event.set()


def _finish_stream(cycle: Any, _task: asyncio.Task[None]) -> None:
    transport = cycle.transport
    if transport.is_closing():
        return
    end = b""
    if getattr(cycle, "chunked_encoding", None):
        end = b"0\r\n\r\n"
    else:
        conn = getattr(cycle, "conn", None)
        if isinstance(conn, h11.Connection):
            try:
                end = conn.send(h11.EndOfMessage()) or b""
            except h11.LocalProtocolError:
                end = b""
    if end:
        transport.write(end)
    transport.close()


def with_cycle_class(method: Any, wrap: Any) -> Any:
    """A copy of uvicorn's protocol `method` (the one that creates each request's cycle:
    h11's ``handle_events``, httptools' ``on_headers_complete``) that creates
    ``wrap(RequestResponseCycle)`` instead of uvicorn's cycle class.

    The copy reads uvicorn's module globals from a snapshot in which only that one name
    differs, so uvicorn's module is untouched and other servers in the process are not
    affected. A cycle born of the subclass costs nothing more per request; replacing the class
    of a cycle afterwards (``__class__``) would turn its attributes into a plain dict on
    CPython 3.11+, about three times slower on every access.
    """
    namespace = dict(method.__globals__)
    base = namespace.get("RequestResponseCycle")
    if not isinstance(base, type):
        raise RuntimeError(f"uvicorn's {method.__qualname__} no longer names RequestResponseCycle")
    namespace["RequestResponseCycle"] = wrap(base)
    copy = types.FunctionType(
        method.__code__, namespace, method.__name__, method.__defaults__, method.__closure__
    )
    copy.__kwdefaults__ = method.__kwdefaults__
    copy.__qualname__ = method.__qualname__
    copy.__doc__ = method.__doc__
    return copy


class _FileBody:
    """Stands for a file body of `size` bytes in h11's output: h11 frames it (chunk size or
    Content-Length accounting, ``send_with_data_passthrough``) without copying its bytes."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size


def body_framing(cycle: Any, size: int) -> tuple[bytes, int, bytes]:
    """What to write around a file body of `size` bytes on a started response, as (bytes
    before, bytes of the file to send, bytes after, including the end of the message), with
    the cycle's framing state advanced as if uvicorn had written the body itself.

    A HEAD response gets no body (0 bytes of the file). A size that disagrees with the
    declared Content-Length raises `RuntimeError` before anything is written, as uvicorn does
    for a ``http.response.body`` of the wrong length.
    """
    head_only = cycle.scope["method"] == "HEAD"
    conn = getattr(cycle, "conn", None)
    if isinstance(conn, h11.Connection):
        before: list[bytes] = []
        after: list[bytes] = []
        if not head_only:
            marker: Any = _FileBody(size)
            pieces: list[Any] = conn.send_with_data_passthrough(h11.Data(data=marker)) or []
            split = next(i for i, piece in enumerate(pieces) if piece is marker)
            before = pieces[:split]
            after = pieces[split + 1 :]
        after.append(conn.send(h11.EndOfMessage()) or b"")
        return b"".join(before), 0 if head_only else size, b"".join(after)
    # httptools: uvicorn's cycle tracks the framing in two attributes.
    if head_only:
        cycle.expected_content_length = 0
        return b"", 0, b""
    if cycle.chunked_encoding:
        if not size:
            return b"", 0, b"0\r\n\r\n"
        return b"%x\r\n" % size, size, b"\r\n0\r\n\r\n"
    if size > cycle.expected_content_length:
        raise RuntimeError("Response content longer than Content-Length")
    if size < cycle.expected_content_length:
        raise RuntimeError("Response content shorter than Content-Length")
    cycle.expected_content_length = 0
    return b"", size, b""


def finish_response(cycle: Any) -> None:
    """What uvicorn does once the last body byte is written: mark the response complete,
    close the connection unless it is kept alive, start on the next request."""
    cycle.response_complete = True
    cycle.message_event.set()
    conn = getattr(cycle, "conn", None)
    if isinstance(conn, h11.Connection):
        if conn.our_state is h11.MUST_CLOSE or not cycle.keep_alive:
            conn.send(h11.ConnectionClosed())
            cycle.transport.close()
    elif not cycle.keep_alive:
        cycle.transport.close()
    cycle.on_response()
