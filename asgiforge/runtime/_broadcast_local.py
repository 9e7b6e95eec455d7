"""The ``local://`` broadcast backend: every worker of one server on this machine, no service.

Design: the master of `asgiforge serve` (and the `asgiforge dev` supervisor) creates a private
directory (mode 0700) and exports its path (`_broadcast_home.ENV`) before forking. Each worker's
`Broadcast` binds one Unix datagram socket in it; a publisher sends each message to every socket
found there (its own included, so every process sees one order per publisher). Why this design:

* The master does nothing per message: it neither parses nor relays, so its single-threaded
  supervision loop (heartbeats, signals) is never behind a busy chat, and a worker that dies
  takes no state of the others with it.
* A SIGKILLed worker leaves a socket file nobody reads: sending to it fails with
  ``ECONNREFUSED`` and the publisher deletes it. A worker started by SIGHUP or SIGTTIN binds
  its socket during its lifespan start-up, before it serves a request, and publishers see it at
  their next message (the directory's mtime changes). Nothing is registered anywhere else, so
  there is no registry to get out of step.
* Datagrams keep message boundaries and, from one sender to one receiver, their order. One lock
  per process serialises its publishes, so each publisher's messages reach every process in the
  order they were published. A receiver's queue is short (``net.unix.max_dgram_qlen``): a
  publisher facing a full one waits until it drains, at most `publish_timeout`, then skips that
  one process for that message and logs a warning (its event loop is stuck, not just slow).
* Messages are limited to `MAX_MESSAGE` bytes (channel name included): far above a chat line
  and within the kernel's default socket buffer.

Without the exported directory (the app runs under another server, or `asgiforge dev
--no-reload`) ``local://`` falls back to the in-process memory backend, and says so once in the
log; ``local:///some/dir`` names the directory explicitly for processes started otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import socket
import stat
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import anyio
import anyio.abc

from asgiforge.runtime import _broadcast_home, broadcast

logger = logging.getLogger("asgiforge.broadcast")

MAX_MESSAGE = 64 * 1024
_SUFFIX = ".sock"
_RECEIVE_BUFFER = 4 * 1024 * 1024
# A directory listing is trusted only once its mtime is older than this: mtimes tick coarsely,
# so two sockets bound within one tick could otherwise hide the second one.
_FRESH_NS = 200_000_000
_TEXT, _BYTES = b"s", b"b"


def open_local(url: str, publish_timeout: float) -> broadcast.Backend:
    """The backend for a ``local://`` URL (see the module docstring for the fallback)."""
    path = unquote(urlsplit(url).path)
    if path not in {"", "/"}:
        return LocalBackend(Path(path), publish_timeout, create=True)
    exported = os.environ.get(_broadcast_home.ENV)
    if exported:
        return LocalBackend(Path(exported), publish_timeout, create=False)
    from asgiforge.runtime._broadcast_memory import MemoryBackend

    logger.info(
        "broadcast: local:// outside `asgiforge serve`/`asgiforge dev`; messages stay in this "
        "process (memory://)"
    )
    return MemoryBackend()


def encode(channel: str, message: broadcast.Message) -> bytes:
    """One datagram: kind byte, channel, NUL, payload."""
    if isinstance(message, str):
        kind, payload = _TEXT, message.encode()
    else:
        kind, payload = _BYTES, bytes(message)
    return b"".join((kind, channel.encode(), b"\x00", payload))


def decode(frame: bytes) -> tuple[str, broadcast.Message] | None:
    """The channel and message of a datagram; None for anything malformed."""
    kind = frame[:1]
    channel, sep, payload = frame[1:].partition(b"\x00")
    if not sep or kind not in (_TEXT, _BYTES):
        return None
    try:
        name = channel.decode()
        return name, (payload.decode() if kind == _TEXT else payload)
    except UnicodeDecodeError:
        return None


class LocalBackend:
    name = "local"

    def __init__(self, directory: Path, publish_timeout: float, *, create: bool) -> None:
        self.directory = directory
        self.publish_timeout = publish_timeout
        self._create = create
        self._sock: socket.socket | None = None
        self._path: Path | None = None
        self._peers: dict[str, socket.socket] = {}
        self._listed_mtime: int | None = None
        self._lock = anyio.Lock()

    async def start(self, deliver: broadcast.Deliver, tasks: anyio.abc.TaskGroup) -> None:
        if self._create:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = self.directory.stat()
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise broadcast.BroadcastError(
                f"broadcast directory {self.directory} must be owned by this user with mode 0700"
            )
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
            sock.bind(str(path))
        except BaseException:
            sock.close()
            raise
        self._sock, self._path = sock, path
        tasks.start_soon(self._receive, sock, deliver)

    async def _receive(self, sock: socket.socket, deliver: broadcast.Deliver) -> None:
        while True:
            await anyio.wait_readable(sock)
            # Drain everything queued in one wake-up: the queue is short and publishers wait on it.
            while True:
                try:
                    frame = sock.recv(MAX_MESSAGE + 1)
                except BlockingIOError:
                    break
                decoded = decode(frame)
                if decoded is not None:
                    deliver(*decoded)

    async def publish(self, channel: str, message: broadcast.Message) -> None:
        frame = encode(channel, message)
        if len(frame) > MAX_MESSAGE:
            raise ValueError(
                f"a local:// broadcast message is at most {MAX_MESSAGE} bytes, got {len(frame)}"
            )
        if self._sock is None:
            raise broadcast.BroadcastError("the broadcast has stopped")
        async with self._lock:
            deadline = time.monotonic() + self.publish_timeout
            for name, peer in list(self._refresh().items()):
                await self._send(name, peer, frame, deadline)

    async def _send(self, name: str, peer: socket.socket, frame: bytes, deadline: float) -> None:
        while True:
            try:
                peer.send(frame)
                return
            except BlockingIOError:
                with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                    await anyio.wait_writable(peer)
                    continue
                logger.warning("broadcast: worker socket %s is not reading; message skipped", name)
                return
            except OSError as exc:
                if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTCONN):
                    raise
                self._forget(name, unlink=exc.errno == errno.ECONNREFUSED)
                return

    def _refresh(self) -> dict[str, socket.socket]:
        """The peers' connected sockets, re-listed when the directory changed."""
        try:
            mtime = self.directory.stat().st_mtime_ns
        except FileNotFoundError:
            raise broadcast.BroadcastUnavailable(
                f"the broadcast directory {self.directory} is gone (the server is stopping)"
            ) from None
        if mtime == self._listed_mtime:
            return self._peers
        fresh = time.time_ns() - mtime < _FRESH_NS
        names = {n for n in os.listdir(self.directory) if n.endswith(_SUFFIX)}
        for name in set(self._peers) - names:
            self._peers.pop(name).close()
        for name in names - set(self._peers):
            peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            peer.setblocking(False)
            try:
                peer.connect(str(self.directory / name))
            except OSError as exc:
                peer.close()
                if exc.errno == errno.ECONNREFUSED:  # a dead worker's socket
                    with contextlib.suppress(OSError):
                        (self.directory / name).unlink()
                continue
            self._peers[name] = peer
        self._listed_mtime = None if fresh else mtime
        return self._peers

    def _forget(self, name: str, *, unlink: bool) -> None:
        peer = self._peers.pop(name, None)
        if peer is not None:
            peer.close()
        if unlink:
            with contextlib.suppress(OSError):
                (self.directory / name).unlink()

    async def stop(self) -> None:
        for peer in self._peers.values():
            peer.close()
        self._peers.clear()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._path is not None:
            with contextlib.suppress(OSError):
                self._path.unlink()
            self._path = None
