"""One `asgiforge serve` worker: uvicorn's `Server` on the master's sockets, plus three additions.

1. A heartbeat written by a task on the worker's *event loop* to a pipe the master watches. A
   handler that blocks the loop stops the heartbeat, so the master notices and replaces the worker
   (a ping answered by another thread, as in uvicorn's supervisor, would keep answering).
2. Draining without losing requests (SIGTERM from the master). uvicorn's own shutdown closes idle
   keep-alive connections at once, racing a client that is just sending its next request on one
   of them: that race is where rolling restarts lose requests. Instead the worker stops accepting,
   answers the *next* request on every open connection with ``Connection: close`` (the client then
   reconnects and lands on another worker), lets in-flight requests finish, and only closes
   connections that stayed idle for a grace period.
3. Start-up errors (import failure, lifespan startup failure) are reported to the master as one
   line, so the master can stop with a clear message instead of respawning a broken app forever.

The pipe carries `asgiforge.server.pipes` messages: ``.`` heartbeat, ``R`` ready (lifespan complete
and listening), ``M`` max-requests reached (please replace me), and ``E`` with ``<code> <message>``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Iterable
from types import FrameType
from typing import Any

import uvicorn

from asgiforge.errors import AppImportError, AsgiforgeError, SourceFrame
from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send
from asgiforge.server import _uvicorn, pipes
from asgiforge.server.pipes import ERROR, FRAMES, HEARTBEAT, READY, RECYCLE
from asgiforge.server.serve.options import ServeOptions

# A connection with no request for this long after draining began is idle, and closing it can
# only race a client that waited that long anyway (the same race as any keep-alive timeout).
IDLE_GRACE = 1.0
# Exit status of a worker whose app could not start (uvicorn uses the same value).
STARTUP_FAILURE = 3

logger = logging.getLogger("asgiforge.serve")


class Channel:
    """The write end of the worker → master pipe; never blocks the event loop."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.master_alive = True

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        try:
            os.write(self.fd, pipes.encode(kind, payload))
        except BlockingIOError:
            pass  # the master is busy; a dropped heartbeat is followed by the next one
        except (BrokenPipeError, OSError):
            self.master_alive = False

    def error(self, code: int, message: str, frames: Iterable[SourceFrame] = ()) -> None:
        """Report a start-up failure: the user's `frames` first (if any), then the one line."""
        frames = tuple(frames)
        if frames:
            self.send(FRAMES, pipes.encode_frames(frames))
        line = " ".join(message.split())[:3000]
        self.send(ERROR, f"{code} {line}".encode(errors="replace"))


CLOSE = (b"connection", b"close")


class Draining:
    """ASGI wrapper installed once draining began: ``Connection: close`` on every response.

    uvicorn closes a connection after a response carrying ``Connection: close`` and the client
    does not reuse it: that is how each keep-alive connection is retired without a race. Until
    draining begins the app runs unwrapped, so serving costs nothing extra (`retire`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), CLOSE]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_closing)


def retire(config: uvicorn.Config, connections: Iterable[Any]) -> None:
    """Make every response from now on close its connection, without wrapping the app before.

    Connections made later, and requests read later on open connections, get the `Draining`
    app; requests already read get ``Connection: close`` added to their cycle's default
    headers, which uvicorn sends with the response (and then closes, per the header).
    """
    _uvicorn.swap_app(config, connections, Draining, CLOSE)


def shutdown_reserve(graceful_timeout: float) -> float:
    """The part of ``--graceful-timeout`` kept for cancelling overdue requests and the lifespan
    shutdown, so the worker is gone by the deadline the master enforces with SIGKILL."""
    return min(1.0, graceful_timeout / 4)


class _ErrorCapture(logging.Handler):
    """Keeps uvicorn's error messages so a lifespan failure reaches the master as one line."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def summary(self) -> str:
        for text in self.messages:
            if "startup failed. Exiting" in text:
                continue
            lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
            if lines:
                return lines[-1]
        return "see the log above"


class WorkerServer(uvicorn.Server):
    """uvicorn's Server with an event-loop heartbeat, readiness report and no-loss draining."""

    def __init__(
        self,
        config: uvicorn.Config,
        channel: Channel,
        options: ServeOptions,
        max_requests: int | None,
    ) -> None:
        super().__init__(config)
        self.channel = channel
        self.options = options
        self.max_requests = max_requests
        self.drain_requested = False
        self._master_pid = os.getppid()
        self._tasks: set[asyncio.Task[None]] = set()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM means "drain"; SIGINT is left to the master (a terminal sends it to everyone)."""
        if sig == signal.SIGTERM:
            self.drain_requested = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        task = asyncio.get_running_loop().create_task(self._heartbeat())
        self._tasks.add(task)
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self.channel.send(READY)

    async def _heartbeat(self) -> None:
        interval = self.options.heartbeat_interval
        while True:
            self.channel.send(HEARTBEAT)
            if not self.channel.master_alive or os.getppid() != self._master_pid:
                self.drain_requested = True  # orphaned: finish what we have and leave
            await asyncio.sleep(interval)

    async def main_loop(self) -> None:
        counter = 0
        recycle_sent = False
        while not await self.on_tick(counter):
            if self.drain_requested:
                await self._drain()
                return
            if (
                not recycle_sent
                and self.max_requests is not None
                and self.server_state.total_requests >= self.max_requests
            ):
                logger.info(
                    "worker [%d] served %d requests: asking to be replaced",
                    os.getpid(),
                    self.server_state.total_requests,
                )
                self.channel.send(RECYCLE)
                recycle_sent = True
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.1)

    async def _drain(self) -> None:
        """Stop accepting, retire keep-alive connections one response at a time, then return."""
        state = self.server_state
        retire(self.config, list(state.connections))
        logger.info("worker [%d] retiring its connections", os.getpid())
        for server in self.servers:
            server.close()  # our copy of the listener only: the master and peers keep theirs
        loop = asyncio.get_running_loop()
        start = loop.time()
        graceful = self.options.graceful_timeout
        deadline = start + graceful - shutdown_reserve(graceful)
        while state.connections and loop.time() < deadline:
            # Streams (server-sent events, downloads without a length) never finish by
            # themselves: the app is told its client left; checked each turn, as a request
            # on a kept-alive connection may start one after draining began.
            _uvicorn.end_streams(state)
            if loop.time() - start >= IDLE_GRACE and _uvicorn.in_flight(state.connections) == 0:
                break
            await asyncio.sleep(0.05)
        # WebSockets get uvicorn's 1012 close next; what still runs past the deadline is
        # cancelled at once.
        _uvicorn.set_shutdown_timeout(self.config, max(0.0, deadline - loop.time()))


def run(
    options: ServeOptions,
    sockets: list[socket.socket],
    channel_fd: int,
    max_requests: int | None = None,
) -> int:
    """Run one worker until it is drained; return its exit status (the caller exits with it)."""
    channel = Channel(channel_fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from asgiforge.importer import load_app

        app: Any = load_app(options.target)
    except AppImportError as exc:  # the user's code raised: the master shows where
        channel.error(exc.exit_code, str(exc), exc.frames)
        return exc.exit_code
    except AsgiforgeError as exc:
        channel.error(exc.exit_code, str(exc))
        return exc.exit_code
    except Exception as exc:
        channel.error(STARTUP_FAILURE, f"loading the application failed: {exc!r}")
        return STARTUP_FAILURE

    from asgiforge.server import accesslog

    app = accesslog.wrap(app, options.http)
    capture = _ErrorCapture()
    logging.getLogger("uvicorn.error").addHandler(capture)
    # Proxy headers are read by the protocols `uvicorn_kwargs` names (and, for WebSockets, a
    # middleware they put around the app): the app is handed over as it is.
    config = uvicorn.Config(
        app=app,
        log_config=None,
        lifespan="auto",
        **options.http.uvicorn_kwargs(),
    )
    _uvicorn.set_shutdown_timeout(config, options.graceful_timeout)
    try:
        config.load()
    except SystemExit:
        channel.error(STARTUP_FAILURE, f"the server could not start: {capture.summary()}")
        return STARTUP_FAILURE
    server = WorkerServer(config, channel, options, max_requests)
    try:
        server.run(sockets=sockets)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        if not server.started:
            channel.error(code, f"application startup failed: {capture.summary()}")
        return code
    if not server.started:  # uvicorn 0.30 returns here instead of raising SystemExit
        channel.error(STARTUP_FAILURE, f"application startup failed: {capture.summary()}")
        return STARTUP_FAILURE
    return 0
