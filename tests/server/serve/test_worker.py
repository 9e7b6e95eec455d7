"""The worker: heartbeat from the event loop, readiness, start-up errors, draining headers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asgiforge.runtime.types import Message, Receive, Scope, Send
from asgiforge.server import _uvicorn, pipes
from asgiforge.server.serve import worker
from tests.server.serve_process import ServeProcess, free_port, write_app

RUN_WORKER = """
import socket, sys
from pathlib import Path
from asgiforge.server.serve import worker
from asgiforge.server.options import AppTarget
from asgiforge.server.serve.options import ServeOptions
from asgiforge.server.sockets import bind, tcp

app_dir, port, fd, module = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
options = ServeOptions(
    target=AppTarget(module, Path(app_dir)), binds=(tcp("127.0.0.1", port),), timeout=0.4
)
sys.exit(worker.run(options, [bind(options.binds[0])], fd))
"""


@pytest.fixture
def run_worker(tmp_path: Path) -> Iterator[object]:
    """Start `worker.run` in a child process; yields a starter returning (proc, pipe, port)."""
    write_app(tmp_path)
    procs: list[subprocess.Popen[bytes]] = []

    def start(module: str = "svcapp:app") -> tuple[subprocess.Popen[bytes], int, int]:
        read_fd, write_fd = os.pipe()
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_WORKER, str(tmp_path), str(port), str(write_fd), module],
            pass_fds=(write_fd,),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        procs.append(proc)
        return proc, read_fd, port

    try:
        yield start
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)


def read_for(fd: int, seconds: float) -> bytes:
    """Everything the worker wrote within `seconds` (bounded in time, non-blocking reads)."""
    os.set_blocking(fd, False)
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if not chunk:
            break
        data += chunk
    return data


def kinds(data: bytes) -> list[bytes]:
    """The types of the complete messages in `data`, in order."""
    return [kind for kind, _ in pipes.Decoder().feed(data)]


@pytest.mark.slow
def test_worker_reports_ready_then_heartbeats_only_while_its_loop_runs(
    run_worker: object,
) -> None:
    _proc, fd, port = run_worker()  # type: ignore[operator]
    first = kinds(read_for(fd, 3.0))
    assert pipes.READY in first
    assert first.count(pipes.HEARTBEAT) >= 3  # interval is timeout/4 = 0.1 s

    def block() -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        try:
            conn.request("GET", "/block")
            conn.getresponse()
        except OSError:
            pass

    threading.Thread(target=block, daemon=True).start()
    time.sleep(0.3)
    read_for(fd, 0.1)  # discard beats sent before the handler blocked
    assert kinds(read_for(fd, 1.0)).count(pipes.HEARTBEAT) == 0
    os.close(fd)


@pytest.mark.slow
def test_import_error_is_reported_on_the_pipe_and_in_the_exit_status(
    run_worker: object,
) -> None:
    proc, fd, _ = run_worker("missing_module:app")  # type: ignore[operator]
    assert proc.wait(timeout=15) == 2
    [(kind, payload)] = pipes.Decoder().feed(read_for(fd, 1.0))
    assert kind == pipes.ERROR
    assert payload.startswith(b"2 ")
    assert b"no module 'missing_module'" in payload
    os.close(fd)


@pytest.mark.slow
def test_sigterm_drains_and_exits_0(tmp_path: Path) -> None:
    server = ServeProcess(write_app(tmp_path), "--workers", "1")
    try:
        (pid,) = server.wait_ready(1)
        os.kill(pid, signal.SIGTERM)  # straight to the worker: the master replaces it
        assert server.wait_ready(2)[1] != pid
        deadline = time.monotonic() + 10
        while f"worker [{pid}] exited with code 0" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
    finally:
        server.close()


async def _run(app: worker.ASGIApp, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x", b"1")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.anyio
async def test_draining_app_adds_connection_close_to_http_responses() -> None:
    after = await _run(worker.Draining(_ok), {"type": "http"})
    assert after[0]["headers"] == [(b"x", b"1"), (b"connection", b"close")]
    assert after[1] == {"type": "http.response.body", "body": b"ok"}


@pytest.mark.anyio
async def test_draining_app_leaves_other_scopes_alone() -> None:
    sent = await _run(worker.Draining(_ok), {"type": "websocket"})
    assert sent[0]["headers"] == [(b"x", b"1")]


class _Cycle:
    def __init__(self, started: bool, complete: bool) -> None:
        self.response_started = started
        self.response_complete = complete
        self.default_headers = [(b"server", b"x")]


class _HTTPConnection:
    def __init__(self, cycle: _Cycle | None, pipeline: tuple[_Cycle, ...] = ()) -> None:
        self.app: object = _ok
        self.cycle = cycle
        self.pipeline = [(queued, _ok) for queued in pipeline]


class _WebSocketConnection:
    def __init__(self) -> None:
        self.app: object = _ok


def test_retire_swaps_the_app_only_then_and_closes_requests_already_read() -> None:
    import uvicorn

    config = uvicorn.Config(_ok)
    config.loaded_app = _ok
    idle = _HTTPConnection(_Cycle(started=True, complete=True))
    started = _HTTPConnection(_Cycle(started=True, complete=False))
    waiting, queued = _Cycle(started=False, complete=False), _Cycle(False, False)
    reading = _HTTPConnection(waiting, pipeline=(queued,))
    socket = _WebSocketConnection()
    worker.retire(config, [idle, started, reading, socket])
    assert isinstance(config.loaded_app, worker.Draining) and config.loaded_app.app is _ok
    assert idle.app is started.app is reading.app is config.loaded_app
    assert socket.app is _ok
    close = (b"connection", b"close")
    assert close not in started.cycle.default_headers  # type: ignore[union-attr]
    assert waiting.default_headers[-1] == close and queued.default_headers[-1] == close
    assert _uvicorn.in_flight([idle, started, reading, socket]) == 2
