"""The ``http.response.pathsend`` ASGI extension: a file body sent by the kernel (`sendfile`).

An application that sees ``"http.response.pathsend"`` in ``scope["extensions"]`` may answer
``http.response.start`` with ``{"type": "http.response.pathsend", "path": ...}`` instead of body
messages (`FileResponse` does, for whole files). The server then opens the file and, over plain
TCP, has the kernel copy it from the page cache to the socket: no read into Python, no thread
hop per chunk, no copy through the transport's buffer.

Why not `loop.sendfile`: asyncio implements it for its selector transports, uvloop does not (it
raises NotImplementedError, and its ``sock_sendfile`` falls back to reading and sending). What
works on both loops is done here: reading is paused (no pipelined request can make the protocol
write mid-file), the transport's write buffer is left to drain (the response head), then
`os.sendfile` writes on a duplicate of the socket's descriptor, waiting for room with
`loop.add_writer` on that duplicate (both loops refuse watchers on a descriptor their transport
owns; the duplicate is another descriptor of the same socket). The transport never sees the
body, so its flow control is not involved; once the file is out, the rest of the message and
the next response go through the transport as usual.

Over TLS the bytes must pass through the TLS layer, so the file is read in chunks off the event
loop and written through the transport with its usual flow control; the same happens when the
kernel refuses `sendfile` for this file or socket.

The two protocols of `asgiforge.server.protocols` create each request's cycle as a subclass of
uvicorn's (`pathsend_cycle`, through `_uvicorn.with_cycle_class`), which understands the
message, and add the extension to the scope: a request that does not use it pays for one small
dictionary, one function call, and one comparison of the message type per ``send``.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Awaitable, Callable
from typing import Any

from asgiforge.server._uvicorn import body_framing, disconnect, finish_response, with_cycle_class

__all__ = [
    "PATHSEND",
    "advertise",
    "h11_with_pathsend",
    "httptools_headers_complete",
    "pathsend_cycle",
    "send_file",
]

PATHSEND = "http.response.pathsend"

# Bytes per `os.sendfile` call: the kernel stops sooner when the socket buffer is full; the cap
# only bounds how long one connection keeps the loop when the client reads as fast as we send.
_SENDFILE_CALL = 4 * 1024 * 1024
# Bytes per read when the file goes through the transport (TLS, or no sendfile).
_CHUNK = 256 * 1024
# The errors that say the peer is gone: the transfer ends quietly, the connection is closed.
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
# `sendfile` refused for this file or socket (nothing was sent): the chunked path takes over.
_NO_SENDFILE = frozenset((errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSOCK))


class _Gone(Exception):
    """The client closed the connection while the file was being sent."""


def pathsend_cycle(base: type[Any]) -> type[Any]:
    """`base` (one of uvicorn's request-response cycles) whose ``send`` also takes
    ``http.response.pathsend``; every other message goes to uvicorn's ``send`` unchanged.

    ``send`` is a plain function returning uvicorn's coroutine, so the other messages cost
    one comparison, not an extra coroutine. No ``__init__`` of its own: re-passing uvicorn's
    eleven keyword arguments would cost more than the rest of this module per request.
    """
    base_send = base.send

    class PathsendCycle(base):  # type: ignore[misc]
        def send(self, message: Any) -> Awaitable[None]:
            if message["type"] == PATHSEND:
                return _send_path(self, message)
            return base_send(self, message)  # type: ignore[no-any-return]

    PathsendCycle.__name__ = PathsendCycle.__qualname__ = f"Pathsend{base.__name__}"
    return PathsendCycle


def advertise(scope: dict[str, Any]) -> None:
    """Add the extension to a request's scope (a new dict each time: applications and
    middleware may add to theirs)."""
    extensions = scope.get("extensions")
    if extensions is None:
        scope["extensions"] = {PATHSEND: {}}
    else:
        extensions[PATHSEND] = {}


def httptools_headers_complete(protocol: type[Any]) -> Callable[[Any], None]:
    """uvicorn's httptools ``on_headers_complete`` (of `protocol`), creating pathsend cycles:
    what the hardened protocol calls once it has checked a head, right after `advertise` on
    the scope (which exists since ``on_message_begin``). Two calls there rather than one
    wrapper here: a frame less on every request."""
    return with_cycle_class(protocol.on_headers_complete, pathsend_cycle)  # type: ignore[no-any-return]


def h11_with_pathsend(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """`base` (the hardened h11 protocol) whose ``handle_events``, where uvicorn creates each
    request's scope and cycle (after a read, and after a response for a pipelined request),
    creates pathsend cycles and advertises the extension in the new scope."""
    handle_events = with_cycle_class(base.handle_events, pathsend_cycle)  # type: ignore[attr-defined]

    class H11(base):  # type: ignore[misc, valid-type]
        def handle_events(self) -> None:
            scope = self.scope
            handle_events(self)
            if self.scope is not scope:  # a new request
                advertise(self.scope)

    H11.__name__ = H11.__qualname__ = base.__name__
    return H11


async def _send_path(cycle: Any, message: Any) -> None:
    """``http.response.pathsend`` on a cycle: the checks uvicorn makes for a body message,
    then the file, then the end of the response."""
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()
    if cycle.disconnected:
        return
    if not cycle.response_started:
        raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{PATHSEND}'.")
    if cycle.response_complete:
        raise RuntimeError(f"Unexpected ASGI message '{PATHSEND}' sent, after response completed.")
    path = os.fspath(message["path"])
    transport = cycle.transport
    if cycle.scope["method"] == "HEAD":
        head, count, tail = body_framing(cycle, 0)
        if tail:
            transport.write(tail)
        finish_response(cycle)
        return
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        head, count, tail = body_framing(cycle, os.fstat(fd).st_size)
        if head:
            transport.write(head)
        if count:
            await send_file(transport, cycle.flow, fd, count)
    except _Gone:
        # The client left: what uvicorn does when it notices (the application's receive()
        # answers http.disconnect, later sends are dropped), without an error in the log.
        disconnect(cycle)
        transport.close()
        return
    finally:
        os.close(fd)
    if tail:
        transport.write(tail)
    finish_response(cycle)


async def send_file(transport: asyncio.Transport, flow: Any, fd: int, count: int) -> None:
    """Send the first `count` bytes of the file `fd` on `transport`: by `os.sendfile` on plain
    TCP, else in chunks through the transport. Raises `_Gone` when the client closes first,
    `RuntimeError` when the file turns out shorter than `count`."""
    loop = asyncio.get_running_loop()
    sock = None
    if transport.get_extra_info("sslcontext") is None:
        sock = transport.get_extra_info("socket")
    offset = 0
    if sock is not None:
        flow.pause_reading()  # resumed by the protocol once the response is complete
        await _drained(transport, flow)
        offset = await _sendfile(loop, sock.fileno(), fd, count)
    if offset < count:
        await _copy(loop, transport, flow, fd, offset, count)


async def _drained(transport: asyncio.Transport, flow: Any) -> None:
    """Wait until the transport has written everything it holds (the response head).

    uvloop queues writes until the end of the loop iteration, so one yield usually does it.
    If the socket is full, the transport's low-water mark is set to 0 for the wait, so its
    ``resume_writing`` (uvicorn's flow control) says when it is empty.
    """
    if transport.is_closing():
        raise _Gone
    if not transport.get_write_buffer_size():
        return
    await asyncio.sleep(0)
    if not transport.get_write_buffer_size():
        return
    low, high = transport.get_write_buffer_limits()
    transport.set_write_buffer_limits(high=0, low=0)  # pause_writing now, resume when empty
    try:
        while transport.get_write_buffer_size() and not transport.is_closing():
            await flow.drain()
    finally:
        if not transport.is_closing():
            transport.set_write_buffer_limits(high=high, low=low)
    if transport.is_closing():
        raise _Gone


async def _sendfile(loop: asyncio.AbstractEventLoop, sock_fd: int, fd: int, count: int) -> int:
    """`os.sendfile` from `fd` to the socket until `count` bytes are out; the offset reached
    (short of `count` only when the kernel refused sendfile before the first byte)."""
    out = os.dup(sock_fd)  # the loops refuse watchers on the transport's own descriptor
    offset = 0
    try:
        while offset < count:
            try:
                sent = os.sendfile(out, fd, offset, min(count - offset, _SENDFILE_CALL))
            except BlockingIOError:
                await _writable(loop, out)
                continue
            except _GONE as exc:
                raise _Gone from exc
            except OSError as exc:
                if offset == 0 and exc.errno in _NO_SENDFILE:
                    return 0
                raise
            if not sent:
                raise RuntimeError("File shorter than its Content-Length (changed while sent)")
            offset += sent
            if offset < count:
                # The socket buffer is full (or the cap was reached): let the loop run.
                await _writable(loop, out)
    finally:
        os.close(out)
    return offset


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Wait until the socket `fd` can take more bytes (or has an error to report)."""
    ready = loop.create_future()
    loop.add_writer(fd, _set_ready, ready)
    try:
        await ready
    finally:
        loop.remove_writer(fd)


def _set_ready(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _copy(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.Transport,
    flow: Any,
    fd: int,
    offset: int,
    end: int,
) -> None:
    """Bytes `offset` to `end` of the file through the transport, read off the event loop,
    honouring the transport's flow control (TLS, or no sendfile)."""
    while offset < end:
        read = loop.run_in_executor(None, os.pread, fd, min(_CHUNK, end - offset), offset)
        try:
            chunk = await asyncio.shield(read)
        except asyncio.CancelledError:
            # The thread still reads `fd`, which the caller closes next: let it finish first.
            await asyncio.wait([read])
            raise
        if transport.is_closing():
            raise _Gone
        if not chunk:
            raise RuntimeError("File shorter than its Content-Length (changed while sent)")
        transport.write(chunk)
        offset += len(chunk)
        if flow.write_paused:
            await flow.drain()
            if transport.is_closing():
                raise _Gone
