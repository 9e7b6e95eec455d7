"""What every process-spawning test needs, defined once: a free port and a bounded wait.

`wait_until` is the one poll-until loop of the suite: the helpers that wait for a port, a log
line or an HTTP answer (`tests.servers.wait_for_port`, `ServeProcess.wait_ready`, the `dev` and
reload fixtures) are written on top of it, so every wait is bounded in time the same way.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

__all__ = ["free_port", "wait_until"]


def free_port() -> int:
    """A port the OS just handed out, for programs that insist on binding it themselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float, step: float = 0.02) -> bool:
    """Call `predicate` every `step` seconds until it is true or `timeout` passed; its last
    verdict. An `OSError` from it (a server not listening yet) counts as false."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
