"""The `asgiforge serve` master: binds once, forks workers, keeps N of them healthy.

Why fork: the master imports uvicorn (never the user's app) before forking, so a worker starts
with the server code already in memory and a SIGKILLed worker is replaced in milliseconds; each
worker imports the app itself, so a rolling restart (SIGHUP) picks up new code. Whatever else the
master holds, every worker holds too: `asgiforge serve` therefore runs it in a fresh interpreter
(`asgiforge.server.serve.master_exec`), and the pre-imported objects are frozen out of the collector
(`gc.freeze`) so a worker's collections do not copy the pages they share with the master.

Why a pipe per worker: the worker's event loop writes heartbeats to it, so a blocked loop is
seen; it also carries "ready" (so old workers are drained only once their replacement serves),
"replace me" (max requests) and start-up errors (so a broken app stops the master with one clear
line instead of a respawn loop). EOF on the pipe and SIGCHLD wake the single-threaded select loop.

Signals: TERM/INT graceful stop (a second INT forces), HUP rolling restart, TTIN/TTOU scale.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import logging
import os
import random
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asgiforge.errors import AppImportError, AsgiforgeError, ServeError, SourceFrame
from asgiforge.runtime import _broadcast_home
from asgiforge.server import children, pipes, proctitle
from asgiforge.server import sockets as sockets_mod
from asgiforge.server.options import AppTarget
from asgiforge.server.pipes import Decoder, read_report
from asgiforge.server.serve import worker as worker_mod
from asgiforge.server.serve.options import ServeOptions

logger = logging.getLogger("asgiforge.serve")

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)
# How long a timed-out (hung) worker gets between SIGTERM and SIGKILL.
HUNG_KILL_GRACE = 1.0
# Give up on booting when this many workers in a row die before ever becoming ready.
MAX_BOOT_FAILURES = 5
MAX_BACKOFF = 10.0
MEMORY_CHECK_EVERY = 1.0
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(eq=False)
class WorkerInfo:
    """What the master knows about one worker process."""

    pid: int
    fd: int
    started_at: float
    last_seen: float
    max_requests: int | None
    number: int = 0  # its slot in `ps` ("asgiforge worker N"): the smallest one free at spawn
    ready: bool = False
    outdated: bool = False  # to be replaced (SIGHUP, max requests, memory) once a fresh one serves
    draining: bool = False
    kill_at: float | None = None
    error: tuple[int, str] | None = None
    frames: tuple[SourceFrame, ...] = ()  # where in the user's code `error` happened
    decoder: Decoder = field(default_factory=Decoder)


class Master:
    """Supervise `options.worker_count` forked workers until stopped; `run()` returns the status.

    `retarget` is the SIGHUP hook: it resolves the app afresh (a changed pyproject is picked up)
    before the rolling restart.
    """

    def __init__(
        self,
        options: ServeOptions,
        *,
        retarget: Callable[[], AppTarget] | None = None,
        listeners: list[socket.socket] | None = None,
    ) -> None:
        self.options = options
        self._retarget = retarget
        self._listeners = listeners
        self._target = options.worker_count
        self._workers: dict[int, WorkerInfo] = {}
        self._selector: selectors.BaseSelector | None = None
        self._wake_r = -1
        self._wake_w = -1
        self._pending: list[int] = []
        self._stopping = False
        self._forced = False
        self._ever_ready = False
        self._boot_failures = 0
        self._next_spawn_at = 0.0
        self._next_memory_check = 0.0
        self._fatal: AsgiforgeError | None = None

    # ---------------------------------------------------------------- life cycle

    def run(self) -> int:
        """Bind, boot, supervise: 0 after a graceful stop; `ServeError` if the app cannot start."""
        _check_tls(self.options)
        owned = self._listeners is None
        listeners = self._listeners or sockets_mod.bind_all(self.options.binds)
        self._listeners = listeners
        old_handlers: dict[int, object] = {}
        broadcast_dir = _broadcast_home.create()  # the workers' local:// broadcast meets there
        try:
            _preimport(self.options)
            # Python's advice for fork without exec: what the master has now lives as long as
            # the workers, and collecting it in them would only turn shared pages private.
            gc.collect()
            gc.freeze()
            self._write_pid_file()
            self._selector = selectors.DefaultSelector()
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
            self._selector.register(self._wake_r, selectors.EVENT_READ, None)
            for sig in (*HANDLED, signal.SIGCHLD):
                old_handlers[sig] = signal.signal(sig, self._on_signal)
            old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
            tls = bool(self.options.http.ssl_certfile)
            addresses = [sockets_mod.describe(sock, tls) for sock in listeners]
            for address in addresses:
                logger.info("listening on %s", address)
            proctitle.set_title(
                proctitle.master_title(self.options.target.import_string, addresses)
            )
            logger.info("master [%d] starting %d worker(s)", os.getpid(), self._target)
            try:
                self._loop()
            finally:
                signal.set_wakeup_fd(old_wakeup)
        finally:
            self._kill_all(signal.SIGKILL)
            self._reap(block=True)
            for signum, handler in old_handlers.items():
                signal.signal(signum, handler)  # type: ignore[arg-type]
            if self._selector is not None:
                self._selector.close()
            for fd in (self._wake_r, self._wake_w):
                if fd >= 0:
                    os.close(fd)
            if owned:
                sockets_mod.close_all(listeners)
            self._remove_pid_file()
            _broadcast_home.remove(broadcast_dir)
        if self._fatal is not None:
            raise self._fatal
        if self._forced:
            logger.warning("master [%d] forced to stop", os.getpid())
            return 1
        logger.info("master [%d] stopped", os.getpid())
        return 0

    def _loop(self) -> None:
        assert self._selector is not None  # set by run()
        while True:
            now = time.monotonic()
            self._handle_signals()
            self._reap(block=False)
            if self._fatal is not None:
                return
            if self._stopping and not self._workers:
                return
            self._check_deadlines(now)
            self._maintain(now)
            for key, _ in self._selector.select(self._tick()):
                if key.data is None:
                    _drain_fd(self._wake_r)
                else:
                    self._read_worker(key.data)

    def _tick(self) -> float:
        return min(0.1, self.options.heartbeat_interval / 2)

    # ---------------------------------------------------------------- signals

    def _on_signal(self, signum: int, frame: object) -> None:
        self._pending.append(signum)

    def _handle_signals(self) -> None:
        while self._pending:
            sig = self._pending.pop(0)
            if sig == signal.SIGCHLD:
                continue  # the reap that follows does the work
            if sig in (signal.SIGTERM, signal.SIGINT):
                if self._stopping and sig == signal.SIGINT:
                    logger.warning("second interrupt: killing the workers")
                    self._forced = True
                    self._kill_all(signal.SIGKILL)
                elif not self._stopping:
                    self._stop(signal.Signals(sig).name)
            elif self._stopping:
                continue
            elif sig == signal.SIGHUP:
                self._rolling_restart()
            elif sig == signal.SIGTTIN:
                self._target += 1
                logger.info("scaling up to %d worker(s)", self._target)
            elif sig == signal.SIGTTOU:
                if self._target > 1:
                    self._target -= 1
                    logger.info("scaling down to %d worker(s)", self._target)
                else:
                    logger.info("already at 1 worker: not scaling down")

    def _stop(self, reason: str) -> None:
        logger.info(
            "%s: stopping; in-flight requests get %gs", reason, self.options.graceful_timeout
        )
        self._stopping = True
        # Our copies of the listeners go now: once the workers close theirs, connects are refused.
        if self._listeners is not None:
            for sock in self._listeners:
                if sock.family != socket.AF_UNIX:
                    sock.close()
        for info in list(self._workers.values()):
            self._drain(info, None)

    def _rolling_restart(self) -> None:
        if self._retarget is not None:
            try:
                new = dataclasses.replace(self.options, target=self._retarget())
            except AsgiforgeError as exc:
                logger.error("SIGHUP: keeping the running configuration: %s", exc)
            else:
                self.options = new
                self._target = new.worker_count
        logger.info("SIGHUP: rolling restart of %d worker(s)", len(self._workers))
        for info in self._workers.values():
            if not info.draining:
                info.outdated = True

    # ---------------------------------------------------------------- workers

    def _spawn(self) -> None:
        assert self._selector is not None
        assert self._listeners is not None
        options = self.options
        limit = None
        if options.max_requests is not None:
            limit = options.max_requests + random.randint(0, options.max_requests_jitter)  # noqa: S311
        listeners = self._listeners
        taken = {w.number for w in self._workers.values()}
        number = next(n for n in range(1, len(taken) + 2) if n not in taken)
        child = children.spawn(
            lambda report_fd: worker_mod.run(options, listeners, report_fd, limit),
            prepare=lambda: self._become_worker(number),
        )
        now = time.monotonic()
        info = WorkerInfo(child.pid, child.fd, now, now, limit, number)
        self._workers[child.pid] = info
        self._selector.register(child.fd, selectors.EVENT_READ, info)
        logger.info("worker [%d] started", child.pid)

    def _become_worker(self, number: int) -> None:
        """Drop everything that belongs to the master before running worker `number`.

        The one place where a forked worker's process state is prepared, after `fork` and
        before `worker.run` (`children.spawn`'s ``prepare``): what workers must inherit from the
        master (an environment variable naming a resource the master owns, say) is set here.
        """
        signal.set_wakeup_fd(-1)
        for sig in (*HANDLED, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        if self._selector is not None:
            self._selector.close()
        for fd in (self._wake_r, self._wake_w, *(w.fd for w in self._workers.values())):
            with contextlib.suppress(OSError):
                os.close(fd)
        proctitle.set_title(proctitle.worker_title(number, self.options.target.import_string))

    def _read_worker(self, info: WorkerInfo) -> None:
        data = read_report(info.fd)
        if data is None:
            return
        if not data:
            self._unregister(info)
            return
        info.last_seen = time.monotonic()
        self._parse(info, data)

    def _parse(self, info: WorkerInfo, data: bytes) -> None:
        for kind, payload in info.decoder.feed(data):
            if kind == pipes.FRAMES:
                info.frames = pipes.decode_frames(payload)
            elif kind == pipes.ERROR:
                code_text, _, message = payload.decode(errors="replace").partition(" ")
                info.error = (int(code_text) if code_text.isdigit() else 3, message)
            elif kind == pipes.READY and not info.ready:
                info.ready = True
                self._ever_ready = True
                self._boot_failures = 0
                logger.info(
                    "worker [%d] ready in %.2fs", info.pid, time.monotonic() - info.started_at
                )
            elif kind == pipes.RECYCLE and not info.outdated and not info.draining:
                info.outdated = True
                logger.info("worker [%d] recycled: reached its request limit", info.pid)

    def _unregister(self, info: WorkerInfo) -> None:
        if self._selector is not None and info.fd >= 0:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(info.fd)

    def _drain(self, info: WorkerInfo, why: str | None) -> None:
        """Ask a worker to finish its requests and exit; SIGKILL it if it overstays."""
        if info.draining:
            return
        info.draining = True
        # The user's deadline is the deadline: the worker keeps part of it for its lifespan
        # shutdown (`worker.shutdown_reserve`), and is killed if it is still there at the end.
        info.kill_at = time.monotonic() + self.options.graceful_timeout
        if why:
            logger.info("worker [%d] draining (%s)", info.pid, why)
        children.send(info.pid, signal.SIGTERM)

    def _kill_all(self, sig: int) -> None:
        for pid in list(self._workers):
            children.send(pid, sig)

    def _reap(self, *, block: bool) -> None:
        for pid in list(self._workers):
            status = children.reap(pid, block=block)
            if status is not None:
                self._on_exit(self._workers.pop(pid), status)

    def _on_exit(self, info: WorkerInfo, status: int) -> None:
        while chunk := read_report(info.fd):
            self._parse(info, chunk)
        self._unregister(info)
        with contextlib.suppress(OSError):
            os.close(info.fd)
        if os.WIFSIGNALED(status):
            how = f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
            code = -os.WTERMSIG(status)
        else:
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
            how = f"exited with code {code}"
        # Once the start-up has failed for good, the others are stopped by us: no warning.
        stopped_by_us = (info.draining and code == 0) or self._fatal is not None
        level = logging.INFO if stopped_by_us else logging.WARNING
        logger.log(level, "worker [%d] %s", info.pid, how)
        if info.ready or info.draining or self._stopping or self._fatal is not None:
            return
        # Died before it ever served: an app that cannot start, or a crash at boot.
        self._boot_failures += 1
        if not self._ever_ready and (info.error is not None or code in (2, 3)):
            message = info.error[1] if info.error else f"the worker {how} before it was ready"
            # With frames it is the app's import that failed: the CLI shows them under the line.
            fatal: AsgiforgeError = (
                AppImportError(message, info.frames) if info.frames else ServeError(message)
            )
            fatal.exit_code = info.error[0] if info.error else code
            self._fatal = fatal
            return
        if info.error is not None:
            logger.error("worker [%d] could not start: %s", info.pid, info.error[1])
        if not self._ever_ready and self._boot_failures >= MAX_BOOT_FAILURES:
            self._fatal = ServeError(
                f"{self._boot_failures} workers in a row died before becoming ready ({how})"
            )
            return
        delay = min(MAX_BACKOFF, 0.1 * 2 ** (self._boot_failures - 1))
        self._next_spawn_at = time.monotonic() + delay
        logger.warning("next worker start in %.1fs", delay)

    # ---------------------------------------------------------------- policy

    def _check_deadlines(self, now: float) -> None:
        timeout = self.options.timeout
        for info in list(self._workers.values()):
            if info.draining:
                if info.kill_at is not None and now >= info.kill_at:
                    logger.warning("worker [%d] did not stop in time: SIGKILL", info.pid)
                    children.send(info.pid, signal.SIGKILL)
                    info.kill_at = None
            elif now - info.last_seen > timeout:
                logger.warning(
                    "worker [%d] timed out: its event loop was silent for %gs", info.pid, timeout
                )
                self._drain(info, None)
                info.kill_at = now + HUNG_KILL_GRACE
        limit = self.options.max_worker_memory_mb
        if limit is not None and now >= self._next_memory_check:
            self._next_memory_check = now + MEMORY_CHECK_EVERY
            for info in self._workers.values():
                if info.ready and not info.outdated and not info.draining:
                    rss = _rss_mb(info.pid)
                    if rss is not None and rss > limit:
                        info.outdated = True
                        logger.info(
                            "worker [%d] recycled: %.0f MB resident exceeds %g MB",
                            info.pid,
                            rss,
                            limit,
                        )

    def _maintain(self, now: float) -> None:
        """Converge on `target` fresh workers without ever dropping below the ready count."""
        if self._stopping:
            return
        active = [w for w in self._workers.values() if not w.draining]
        fresh = [w for w in active if not w.outdated]
        while len(fresh) > self._target:  # scaled down: retire the oldest
            self._drain(fresh.pop(0), "scaled down")
        for info in active:
            if info.outdated and not info.ready:
                self._drain(info, "replaced before it was ready")
        ready_fresh = sum(1 for w in fresh if w.ready)
        old_ready = [w for w in active if w.outdated and w.ready]
        while old_ready and ready_fresh + len(old_ready) > self._target:
            self._drain(old_ready.pop(0), "replaced")
        if len(fresh) < self._target and now >= self._next_spawn_at:
            for _ in range(self._target - len(fresh)):
                self._spawn()

    # ---------------------------------------------------------------- pid file

    def _write_pid_file(self) -> None:
        path = self.options.pid_file
        if path is None:
            return
        try:
            path.write_text(f"{os.getpid()}\n")
        except OSError as exc:
            raise ServeError(f"cannot write --pid file {path}: {exc.strerror}") from None

    def _remove_pid_file(self) -> None:
        path: Path | None = self.options.pid_file
        if path is None:
            return
        with contextlib.suppress(OSError):
            if path.read_text().strip() == str(os.getpid()):
                path.unlink()


def _drain_fd(fd: int) -> None:
    with contextlib.suppress(BlockingIOError, OSError):
        while os.read(fd, 4096):
            pass


def _rss_mb(pid: int) -> float | None:
    """Resident memory from /proc/<pid>/statm (second field, in pages); None if unreadable."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * _PAGE_SIZE / (1024 * 1024)


def _check_tls(options: ServeOptions) -> None:
    """Load the TLS files once in the master so a mistake fails before any worker starts."""
    from asgiforge.server.tls import server_context

    server_context(options.http)


def _preimport(options: ServeOptions) -> None:
    """Import the server machinery (never the user's app) so forked workers start warm."""
    from asgiforge.server import _uvicorn

    http = options.http
    names = [*_uvicorn.preimport_names(http.http, http.ws, http.loop), "asgiforge.importer"]
    # What every worker imports around the app whatever the options (`worker.run`): the access
    # log wrapper, the hardened protocol classes with the proxy-header reading and the runtime's
    # host parsing they use. Imported in each worker otherwise, four times over on two cores at
    # start-up.
    names += [
        "asgiforge.server.accesslog",
        "asgiforge.server.proxy_headers",
        "asgiforge.server.protocols",
    ]
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def serve(options: ServeOptions, retarget: Callable[[], AppTarget] | None = None) -> int:
    """Run the master in this process until it stops; the exit status for the CLI."""
    return Master(options, retarget=retarget).run()
