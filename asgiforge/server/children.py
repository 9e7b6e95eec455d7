"""Forked children of both supervisors: spawn with a report pipe, reap, stop by a deadline.

`serve`'s master and `dev`'s reload supervisor both fork a worker that reports on a pipe, both
must never let a child return into the parent's stack, and both stop a child the same way:
SIGTERM, then SIGKILL once the deadline passes, then reap. Doing it in one place means the rules
(flush before fork, ``os._exit`` whatever happens, a vanished pid counts as reaped) are kept once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Child", "kill_and_reap", "reap", "send", "spawn", "stop_all"]

# How often `stop_all` looks for exited children while it waits for the deadline.
POLL_INTERVAL = 0.02


@dataclass(frozen=True, slots=True)
class Child:
    """A forked child: its pid and the (non-blocking) read end of its report pipe."""

    pid: int
    fd: int


def spawn(run: Callable[[int], int], *, prepare: Callable[[], None] | None = None) -> Child:
    """Fork a child that runs ``run(report_fd)`` and exits with its status.

    `prepare` runs first in the child (drop what belongs to the supervisor: its other pipes,
    signal handlers). Buffered output is flushed before the fork so it is not printed twice, and
    the child leaves through ``os._exit`` whatever happens: it never returns into the parent.
    """
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        status = 1
        try:
            os.close(read_fd)
            if prepare is not None:
                prepare()
            status = run(write_fd)
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(status)
    os.close(write_fd)
    os.set_blocking(read_fd, False)
    return Child(pid, read_fd)


def send(pid: int, sig: int) -> None:
    """Signal a child; one that is already gone needs no signal."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def reap(pid: int, *, block: bool = False) -> int | None:
    """The child's wait status once it has exited, else None (never None with `block`).

    A pid that is no longer our child (reaped elsewhere) counts as exited cleanly.
    """
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return 0
    return status if done else None


def kill_and_reap(pid: int) -> int:
    """SIGKILL a child and wait for it: the end of every deadline."""
    send(pid, signal.SIGKILL)
    status = reap(pid, block=True)
    return 0 if status is None else status


def stop_all(pids: Iterable[int], deadline: float) -> None:
    """Wait for children already asked to stop; SIGKILL and reap those left at `deadline`.

    `deadline` is a `time.monotonic()` value: the caller's own, not one more grace period.
    """
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [pid for pid in left if reap(pid) is None]
        if left:
            time.sleep(POLL_INTERVAL)
    for pid in left:
        kill_and_reap(pid)
