"""What every process-spawning test needs, defined once: a free port and a bounded wait.

`wait_until` is the one poll-until loop of the suite: the helpers that wait for a port, a log
line or an HTTP answer (`tests.servers.wait_for_port`, `ServeProcess.wait_ready`, the `dev` and
reload fixtures) are written on top of it, so every wait is bounded in time the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["free_port", "run_bounded", "wait_until"]


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


def run_bounded(
    argv: list[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    merge_stderr: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run one real process to its end within `timeout`, then kill its whole process group.

    A new session, so whatever the command started (a server, a pip build) dies with it; standard
    input is closed, so a command that prompts fails instead of hanging. `merge_stderr` sends
    standard error into standard output, for commands whose output is read as one log.
    """
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def loaded_by(imports: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh interpreter has loaded once it has run `imports` (Python
    statements): what an import-cost test asserts on, free of what this test process loaded."""
    import sys

    code = f"import sys\n{imports}\nprint('\\n'.join(m for m in {modules!r} if m in sys.modules))"
    result = run_bounded([sys.executable, "-c", code])
    if result.returncode != 0:
        raise RuntimeError(f"the imports failed: {result.stderr.strip()}")
    return result.stdout.split()
