"""The `asgiforge dev` supervisor: watch files, fork a fresh worker per change, never hang.

Why it is fast (issue 7: save → serving well under uvicorn --reload's ~0.35 s):

* The supervisor owns the listening socket for its whole life (bound by `sockets`, like
  `serve`'s). Workers inherit it, so between
  two workers connections wait in the kernel's backlog instead of being refused.
* Workers are *forked* from the supervisor, which has uvicorn, the runtime and (after the first
  successful load) every third-party module the app imported already in memory. A reload costs
  one fork plus the import of the user's own modules; the supervisor itself never imports
  anything from the project, so nothing stale can leak into a worker.
* The old worker stops accepting the instant it is signalled and finishes (or, after
  ``graceful_timeout``, cuts) its WebSockets and streams in the background: long-lived
  connections cost the new code nothing.
* watchfiles runs with a short ``step`` and a filter applied at the watcher, so idle CPU is
  ~0 and ``.venv``/``.git``/``node_modules``/build folders never wake anyone.

Broken code does not wedge the loop: the worker serves a 503 page with the error text (see
`dev.worker`) and the next save replaces it. Reporting goes through a `DevReporter` so this
module imports neither rich nor typer; the CLI passes a rich one.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asgiforge.errors import UsageError
from asgiforge.runtime import _broadcast_home
from asgiforge.server import children, pipes, proctitle, sockets
from asgiforge.server.dev.options import (
    DEFAULT_INCLUDES,
    DevOptions,
    DevReporter,
    ReloadEvent,
    ReloadOptions,
    StartInfo,
)
from asgiforge.server.pipes import Decoder, read_report

if TYPE_CHECKING:
    from watchfiles import Change

    from asgiforge.server.dev.worker import LoadResult

__all__ = ["DEFAULT_EXCLUDE_DIRS", "WatchFilter", "supervise"]

DEFAULT_EXCLUDE_DIRS: frozenset[str] = frozenset(
    {
        ".venv",
        "venv",
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        "build",
        "dist",
        ".eggs",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".idea",
        ".vscode",
        "htmlcov",
        "site-packages",
        "__pypackages__",
    }
)
# Editor droppings and bytecode: never a reason to reload.
_IGNORED_NAMES = ("*.py[cod]", "*.sw?", "*~", ".#*", ".DS_Store", "flycheck_*", "*.___jb_*___")
# Modules the very first worker needs; imported by the supervisor before the first fork.
_BASE_PRELOAD = ("uvicorn", "uvicorn.config", "uvicorn.server", "asgiforge.server.dev.worker")


class WatchFilter:
    """The watchfiles filter: include patterns, minus excluded directories and patterns.

    Paths are judged relative to the watched root that contains them, so a project living under
    a directory called ``build`` still reloads. Directories holding a ``pyvenv.cfg`` (virtual
    environments with any name) are excluded too.
    """

    def __init__(
        self,
        roots: Iterable[Path],
        includes: Iterable[str] = DEFAULT_INCLUDES,
        excludes: Iterable[str] = (),
        exclude_dirs: Iterable[str] = DEFAULT_EXCLUDE_DIRS,
    ) -> None:
        resolved = sorted({str(r.resolve()) for r in roots}, key=len, reverse=True)
        self._roots = tuple(r.rstrip(os.sep) + os.sep for r in resolved)
        self._includes = tuple(includes)
        self._excludes = tuple(excludes)
        self._exclude_dirs = frozenset(exclude_dirs)
        venvs: list[str] = []
        for root in resolved:
            with contextlib.suppress(OSError):
                venvs.extend(
                    str(child) + os.sep
                    for child in Path(root).iterdir()
                    if (child / "pyvenv.cfg").is_file()
                )
        self._venvs = tuple(venvs)

    def relative(self, path: str) -> str:
        for root in self._roots:
            if path.startswith(root):
                return path[len(root) :]
        return path

    def __call__(self, change: Change, path: str) -> bool:
        if self._venvs and path.startswith(self._venvs):
            return False
        rel = self.relative(path)
        parts = rel.split(os.sep)
        name = parts[-1]
        for part in parts[:-1]:
            if part in self._exclude_dirs or part.endswith(".egg-info"):
                return False
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in _IGNORED_NAMES):
            return False
        for pattern in self._excludes:
            if fnmatch.fnmatchcase(rel, pattern) or any(
                fnmatch.fnmatchcase(part, pattern) for part in parts
            ):
                return False
        return any(
            fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(rel, pattern)
            for pattern in self._includes
        )


def supervise(options: DevOptions, reload: ReloadOptions, reporter: DevReporter) -> int:
    """Bind, fork the first worker, replace it on every change until stopped; the exit status."""
    if not hasattr(os, "fork"):
        raise UsageError("asgiforge dev reload needs fork(); use --no-reload on this platform")
    sock = sockets.bind(options.address)
    broadcast_dir = _broadcast_home.create()  # the workers' local:// broadcast meets there
    try:
        return _Supervisor(options, reload, reporter, sock).run()
    finally:
        sockets.close_all([sock])
        _broadcast_home.remove(broadcast_dir)


@dataclass(slots=True)
class _Worker:
    pid: int
    fd: int
    changes: tuple[str, ...]
    saved_at: float | None
    decoder: Decoder = field(default_factory=Decoder)
    ready: bool = False
    stop_deadline: float | None = None


class _Supervisor:
    def __init__(
        self, options: DevOptions, reload: ReloadOptions, reporter: DevReporter, sock: socket.socket
    ) -> None:
        self.options = options
        self.reload = reload
        self.reporter = reporter
        self.sock = sock
        self.roots = tuple(d.resolve() for d in reload.dirs)
        self.filter = WatchFilter(self.roots, reload.includes, reload.excludes)
        self.current: _Worker | None = None
        self.retiring: list[_Worker] = []
        self.started = False
        self.preloaded: set[str] = set()
        self.stop = threading.Event()

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> int:
        import watchfiles

        for name in _BASE_PRELOAD:
            self._import_quietly(name)
        previous = signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        app = self.options.target.import_string
        proctitle.set_title(proctitle.dev_title(app, self.options.url))
        try:
            self.current = self._spawn((), None)
            for changes in watchfiles.watch(
                *self.roots,
                watch_filter=self.filter,
                step=self.reload.step_ms,
                rust_timeout=150,
                yield_on_timeout=True,
                stop_event=self.stop,
                raise_interrupt=False,
            ):
                # Poll first: a worker that came up (or failed) just before this change gets
                # its line printed before it is retired.
                self._poll()
                if changes:
                    self._restart(changes)
                if self.stop.is_set():
                    break
        finally:
            signal.signal(signal.SIGTERM, previous)
            self._shutdown()
        return 0

    def _restart(self, changes: set[tuple[Change, str]]) -> None:
        detected = time.time()
        saved = []
        described = []
        for change, path in sorted(changes, key=lambda c: c[1]):
            described.append(f"{change.name} {self.filter.relative(path)}")
            with contextlib.suppress(OSError):
                saved.append(os.stat(path).st_mtime)
        # mtime is when the editor wrote the file; clamp clock oddities (touch -d, checkouts).
        saved_at = max(saved) if saved else detected
        if not detected - 5 <= saved_at <= detected + 1:
            saved_at = detected
        if self.current is not None:
            self._retire(self.current)
            self.current = None
        self.current = self._spawn(tuple(described), saved_at)

    def _start_info(self, ok: bool, routes: Any, error: Any) -> StartInfo:
        return StartInfo(
            self.options.target.import_string, self.options.url, routes, self.roots, ok, error
        )

    def _announce(self, result: LoadResult) -> None:
        """The banner, printed by the first worker itself (see `worker.serve`)."""
        error = str(result.error) if result.error else None
        self.reporter.started(self._start_info(result.error is None, result.routes, error))

    def _poll(self) -> None:
        workers = [w for w in (self.current, *self.retiring) if w is not None]
        readable = [w.fd for w in workers if w.fd >= 0]
        if readable:
            ready_fds, _, _ = select.select(readable, [], [], 0)
            for worker in workers:
                if worker.fd in ready_fds:
                    self._read(worker)
        now = time.monotonic()
        for worker in list(self.retiring):
            if self._reaped(worker):
                self.retiring.remove(worker)
            elif worker.stop_deadline is not None and now > worker.stop_deadline:
                children.send(worker.pid, signal.SIGKILL)
        current = self.current
        if current is not None and self._reaped(current):
            self.reporter.message("the app's process exited on its own; starting it again")
            self.current = self._spawn(("the previous process exited",), time.time())

    # -- workers -----------------------------------------------------------------------------

    def _spawn(self, changes: tuple[str, ...], saved_at: float | None) -> _Worker:
        from asgiforge.server.dev import worker as dev_worker

        def drop_other_pipes() -> None:
            for other in (self.current, *self.retiring):
                if other is not None and other.fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(other.fd)
            proctitle.set_title(proctitle.dev_worker_title(self.options.target.import_string))

        announce = None if self.started else self._announce
        child = children.spawn(
            lambda report_fd: dev_worker.serve(
                self.sock, self.options, self.reporter, report_fd, announce
            ),
            prepare=drop_other_pipes,
        )
        return _Worker(child.pid, child.fd, changes, saved_at)

    def _retire(self, worker: _Worker) -> None:
        """Ask a worker to stop: it closes its listener at once and drains in the background."""
        children.send(worker.pid, signal.SIGTERM)
        worker.stop_deadline = time.monotonic() + self.reload.graceful_timeout + 2.0
        self.retiring.append(worker)

    def _reaped(self, worker: _Worker) -> bool:
        if children.reap(worker.pid) is None:
            return False
        self._close_pipe(worker)
        return True

    def _close_pipe(self, worker: _Worker) -> None:
        if worker.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(worker.fd)
            worker.fd = -1

    def _read(self, worker: _Worker) -> None:
        chunk = read_report(worker.fd)
        if chunk is None:
            return
        if not chunk:
            with contextlib.suppress(OSError):
                os.close(worker.fd)
            worker.fd = -1
            return
        for kind, payload in worker.decoder.feed(chunk):
            if kind != pipes.READY:
                continue
            with contextlib.suppress(ValueError):
                details = json.loads(payload)
                if isinstance(details, dict):
                    self._handle(worker, details)

    def _handle(self, worker: _Worker, message: dict[str, Any]) -> None:
        if worker is not self.current:
            return
        worker.ready = True
        ok = bool(message.get("ok"))
        routes = message.get("routes")
        error = message.get("error")
        if not self.started:
            self.started = True
            if not message.get("announced"):
                self.reporter.started(self._start_info(ok, routes, error))
        else:
            ready_at = float(message.get("time") or time.time())
            seconds = ready_at - worker.saved_at if worker.saved_at is not None else None
            self.reporter.reloaded(ReloadEvent(worker.changes, seconds, ok, error, routes))
        if self.reload.preload and ok:
            self._preload(message.get("modules") or [])

    # -- warm imports ------------------------------------------------------------------------

    def _preload(self, names: list[str]) -> None:
        """Import what the app used from outside the project, so the next fork starts warm."""
        for name in names:
            if name in self.preloaded or name in sys.modules:
                continue
            self.preloaded.add(name)
            self._import_quietly(name)

    def _import_quietly(self, name: str) -> None:
        roots = tuple(str(d) + os.sep for d in self.options.project_dirs())
        try:
            module = importlib.import_module(name)
        except BaseException:  # a module that will not preload stays cold
            return
        file = getattr(module, "__file__", None) or ""
        if roots and file.startswith(roots):
            # Resolved to a project file here (sys.path differs): never keep user code warm.
            sys.modules.pop(name, None)

    # -- shutdown ----------------------------------------------------------------------------

    def _shutdown(self) -> None:
        if self.current is not None:
            self._retire(self.current)
            self.current = None
        deadline = time.monotonic() + self.reload.graceful_timeout + 2.0
        children.stop_all([w.pid for w in self.retiring], deadline)
        for worker in self.retiring:
            self._close_pipe(worker)
        self.retiring = []
