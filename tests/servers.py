"""Real servers for tests: uvicorn on 127.0.0.1, on a port the OS picked, always torn down.

Two shapes, both race-free because the listening socket is bound *before* the server starts
(no "find a free port, close it, hope nobody takes it" window):

- `serve_in_thread(app, **uvicorn_config)`: an in-process `uvicorn.Server` on its own event loop
  in a daemon thread. Yields the `Server` (for `server.server_state`, `.config`) and the base
  `host:port`; stops it and joins the thread (bounded) on exit.
- `spawn(argv, ...)` + `kill_group(proc)`: a subprocess in its own session, so the whole process
  group dies with it; `wait_for_port` polls (bounded in count and time) until it accepts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn

from tests.harness import free_port, wait_until

__all__ = ["bound_socket", "free_port", "kill_group", "serve_in_thread", "spawn", "wait_for_port"]


def bound_socket() -> socket.socket:
    """A listening TCP socket on 127.0.0.1 with an OS-chosen port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextlib.contextmanager
def serve_in_thread(app: Any, **config: Any) -> Iterator[tuple[uvicorn.Server, str]]:
    """Run `app` under uvicorn in this process; yields (server, "127.0.0.1:PORT")."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    config.setdefault("log_level", "warning")
    config.setdefault("lifespan", "auto")
    server = uvicorn.Server(uvicorn.Config(app, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.01)
        yield server, f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def spawn(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start a process in its own session (so `kill_group` reaches all its children)."""
    return subprocess.Popen(
        list(argv),
        env=env,
        cwd=cwd,
        pass_fds=tuple(pass_fds),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> bytes:
    """SIGTERM the process group, SIGKILL it if it lingers; returns what it printed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=timeout)
    return output or b""


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 15.0
) -> None:
    """Poll 127.0.0.1:port until it accepts a connection (at most `timeout` seconds)."""

    def accepts() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True

    if not wait_until(accepts, timeout, 0.05):
        raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")
