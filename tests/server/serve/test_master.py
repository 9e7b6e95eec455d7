"""The `serve` master for real: a process on 127.0.0.1, real HTTP clients, real signals."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.serve_process import ServeProcess, wait_until, write_app

pytestmark = pytest.mark.slow


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return write_app(tmp_path)


@pytest.fixture
def started(app_dir: Path) -> Iterator[list[ServeProcess]]:
    """Collects every server a test starts and kills each process group afterwards."""
    servers: list[ServeProcess] = []
    try:
        yield servers
    finally:
        for server in servers:
            server.close()


def start(servers: list[ServeProcess], app_dir: Path, *args: str, **kw: object) -> ServeProcess:
    server = ServeProcess(app_dir, *args, **kw)  # type: ignore[arg-type]
    servers.append(server)
    return server


class Load:
    """Keep-alive clients hammering the server until stopped; counts every failed request.

    http.client never retries, so a keep-alive connection closed under a request shows up here.
    """

    def __init__(self, port: int, connections: int = 8, path: str = "/") -> None:
        self.port = port
        self.path = path
        self.ok = 0
        self.failures: list[str] = []
        self.pids: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(connections)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn.request("GET", self.path)
                response = conn.getresponse()
                body = response.read().decode()
                with self._lock:
                    if response.status == 200:
                        self.ok += 1
                        self.pids.add(body)
                    else:
                        self.failures.append(f"status {response.status}")
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.failures.append(repr(exc))
                conn.close()
                time.sleep(0.01)
        conn.close()


def test_serves_with_n_workers_and_writes_pid_file(
    started: list[ServeProcess], app_dir: Path
) -> None:
    pid_file = app_dir / "serve.pid"
    server = start(started, app_dir, "--workers", "2", "--pid", str(pid_file))
    workers = server.wait_ready(2)
    assert server.live_workers() == set(workers)
    assert pid_file.read_text().strip() == str(server.pid)
    status, body = server.get()
    assert status == 200
    assert int(body) in workers
    assert f"listening on http://127.0.0.1:{server.port}" in server.log()
    server.signal(signal.SIGTERM)
    assert server.wait_exit(10) == 0
    assert not pid_file.exists()


def test_sigkilled_worker_is_replaced_fast(started: list[ServeProcess], app_dir: Path) -> None:
    server = start(started, app_dir, "--workers", "2")
    workers = server.wait_ready(2)
    victim = workers[0]
    t0 = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    assert wait_until(
        lambda: victim not in server.live_workers() and len(server.live_workers()) == 2, 5, 0.005
    )
    elapsed = time.monotonic() - t0
    assert elapsed < 1.0, f"back to 2 workers took {elapsed:.3f}s"
    assert f"worker [{victim}] was killed by SIGKILL" in server.log()
    server.wait_ready(3)
    assert server.get()[0] == 200


def test_blocked_event_loop_is_replaced_within_timeout(
    started: list[ServeProcess], app_dir: Path
) -> None:
    server = start(started, app_dir, "--workers", "1", "--timeout", "2")
    (worker,) = server.wait_ready(1)
    blocked = threading.Thread(target=lambda: _ignore_errors(server.get, "/block", 8))
    blocked.start()
    t0 = time.monotonic()
    assert wait_until(lambda: len(server.ready_pids()) == 2, 8, 0.02), server.log()
    elapsed = time.monotonic() - t0
    assert elapsed <= 3.0, f"replaced after {elapsed:.2f}s with --timeout 2"
    assert f"worker [{worker}] timed out" in server.log()
    assert wait_until(lambda: worker not in server.live_workers(), 3)
    assert server.get()[0] == 200
    blocked.join(timeout=10)


def _ignore_errors(func: object, *args: object) -> None:
    try:
        func(*args)  # type: ignore[operator]
    except (OSError, http.client.HTTPException):
        pass


def test_sighup_under_keepalive_load_loses_nothing(
    started: list[ServeProcess], app_dir: Path
) -> None:
    server = start(started, app_dir, "--workers", "2")
    first = set(server.wait_ready(2))
    with Load(server.port) as load:
        assert wait_until(lambda: load.ok >= 50, 10)
        for round_ in range(2):
            server.signal(signal.SIGHUP)
            server.wait_ready(2 * (round_ + 2))
            # The replaced pair has drained and exited, under load, before the next restart.
            server.wait_log("exited with code 0", 2 * (round_ + 1))
    assert load.failures == []
    assert load.ok > 100
    assert first.isdisjoint(server.live_workers())
    assert len(server.live_workers()) == 2


def test_keepalive_connection_gets_connection_close_while_draining(
    started: list[ServeProcess], app_dir: Path
) -> None:
    server = start(started, app_dir, "--workers", "1")
    (old,) = server.wait_ready(1)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/")
        first = conn.getresponse()
        assert first.read().decode() == str(old)
        assert first.getheader("connection") is None
        server.signal(signal.SIGHUP)
        server.wait_ready(2)
        server.wait_log(f"worker [{old}] retiring its connections", timeout=5)
        # The idle connection to the draining worker is still open: the next request is answered.
        conn.request("GET", "/")
        second = conn.getresponse()
        assert second.status == 200
        assert second.read().decode() == str(old)
        assert second.getheader("connection") == "close"
    finally:
        conn.close()


def test_inflight_requests_finish_across_sighup_and_sigterm(
    started: list[ServeProcess], app_dir: Path
) -> None:
    server = start(started, app_dir, "--workers", "2", "--graceful-timeout", "10")
    server.wait_ready(2)
    results: list[tuple[int, str] | str] = []

    def slow() -> None:
        try:
            results.append(server.get("/slow", 10))
        except (OSError, http.client.HTTPException) as exc:
            results.append(repr(exc))

    threads = [threading.Thread(target=slow) for _ in range(4)]
    for thread in threads:
        thread.start()
    server.wait_log("started /slow", 4)
    server.signal(signal.SIGHUP)
    for thread in threads:
        thread.join(timeout=10)
    assert [r[0] if isinstance(r, tuple) else r for r in results] == [200] * 4

    server.wait_ready(4)
    results.clear()
    threads = [threading.Thread(target=slow) for _ in range(4)]
    for thread in threads:
        thread.start()
    server.wait_log("started /slow", 8)
    server.signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=10)
    assert [r[0] if isinstance(r, tuple) else r for r in results] == [200] * 4
    assert server.wait_exit(10) == 0


def test_sigterm_kills_a_hung_worker_at_graceful_timeout(
    started: list[ServeProcess], app_dir: Path
) -> None:
    server = start(started, app_dir, "--workers", "1", "--timeout", "60", "--graceful-timeout", "1")
    server.wait_ready(1)
    blocked = threading.Thread(target=lambda: _ignore_errors(server.get, "/block", 10))
    blocked.start()
    server.wait_log("started /block")
    t0 = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait_exit(10) == 0
    # The deadline is --graceful-timeout itself (plus the master's tick and reaping).
    assert 1.0 <= time.monotonic() - t0 < 1.0 + 0.5
    assert "did not stop in time: SIGKILL" in server.log()
    blocked.join(timeout=10)


def test_ttin_and_ttou_scale_never_below_one(started: list[ServeProcess], app_dir: Path) -> None:
    server = start(started, app_dir, "--workers", "1")
    server.wait_ready(1)
    server.signal(signal.SIGTTIN)
    assert wait_until(lambda: len(server.live_workers()) == 2, 5)
    server.wait_ready(2)
    server.signal(signal.SIGTTOU)
    assert wait_until(lambda: len(server.live_workers()) == 1, 5), server.log()
    server.signal(signal.SIGTTOU)
    server.wait_log("already at 1 worker")  # the sentinel: the master has acted on it
    assert len(server.live_workers()) == 1
    assert server.get()[0] == 200


def test_max_requests_recycles_without_failures(started: list[ServeProcess], app_dir: Path) -> None:
    server = start(
        started, app_dir, "--workers", "2", "--max-requests", "150", "--max-requests-jitter", "30"
    )
    server.wait_ready(2)
    with Load(server.port, connections=4) as load:
        assert wait_until(lambda: len(server.ready_pids()) >= 5, 20, 0.1), server.log()
    assert load.failures == []
    assert "reached its request limit" in server.log()
    assert len(server.live_workers()) >= 2


def test_memory_limit_recycles_the_worker(started: list[ServeProcess], app_dir: Path) -> None:
    server = start(started, app_dir, "--workers", "1", "--max-worker-memory", "150")
    (worker,) = server.wait_ready(1)
    for _ in range(3):
        assert server.get("/grow")[0] == 200
    assert wait_until(lambda: len(server.ready_pids()) >= 2, 10), server.log()
    assert f"worker [{worker}] recycled" in server.log()
    assert wait_until(lambda: worker not in server.live_workers(), 10)
    assert server.get()[0] == 200


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"FAIL_STARTUP": "1"}, "RuntimeError: database unreachable"),
    ],
)
def test_lifespan_failure_exits_3_without_respawning(
    started: list[ServeProcess], app_dir: Path, env: dict[str, str], expected: str
) -> None:
    server = start(started, app_dir, "--workers", "2", env=env)
    assert server.wait_exit(15) == 3
    log = server.log()
    assert expected in log.splitlines()[-1]
    assert log.count("started") <= 3  # the master line and two workers: no respawn loop


def test_import_error_exits_3_with_one_line(started: list[ServeProcess], app_dir: Path) -> None:
    (app_dir / "svcapp.py").write_text("raise ImportError('no such dependency: foo')\n")
    server = start(started, app_dir, "--workers", "2")
    assert server.wait_exit(15) == 3
    *_, error, frame = server.log().strip().splitlines()
    assert error.startswith("error: ")
    assert "no such dependency: foo" in error
    assert frame == "  at svcapp.py:1 in <module>: raise ImportError('no such dependency: foo')"


def test_import_error_points_at_the_users_file_and_line(
    started: list[ServeProcess], app_dir: Path
) -> None:
    """The exception is raised in the worker; the master's last lines name the user's frames
    (innermost last), none of importlib's or asgiforge's, and the message stays short."""
    (app_dir / "settings.py").write_text(
        "import os\n\ndef setting(name):\n    return os.environ[name]\n"
    )
    (app_dir / "svcapp.py").write_text(
        'from settings import setting\n\nDATABASE_URL = setting("DATABASE_URL")\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    server = start(started, app_dir, "--workers", "2", "--log-level", "debug", env=env)
    assert server.wait_exit(15) == 3
    lines = server.log().strip().splitlines()
    error_at = max(i for i, line in enumerate(lines) if line.startswith("error: "))
    assert lines[error_at] == (
        "error: the import of 'svcapp' failed: KeyError: 'DATABASE_URL' (settings.py, line 4)"
    )
    assert lines[error_at + 1 :] == [
        '  at svcapp.py:3 in <module>: DATABASE_URL = setting("DATABASE_URL")',
        "  at settings.py:4 in setting: return os.environ[name]",
    ]
    assert "importlib" not in server.log() and "Traceback" not in server.log()
    assert "next worker start" not in server.log()  # no respawn is announced after the fatal error


def test_port_in_use_is_a_one_line_error(started: list[ServeProcess], app_dir: Path) -> None:
    first = start(started, app_dir, "--workers", "1")
    first.wait_ready(1)
    second = start(started, app_dir, "--workers", "1", port=first.port)
    assert second.wait_exit(10) == 3
    log = second.log().strip()
    assert log == f"error: cannot listen on 127.0.0.1:{first.port}: address already in use"


def test_unix_socket_bind(started: list[ServeProcess], app_dir: Path) -> None:
    path = app_dir / "s.sock"
    server = start(started, app_dir, "--workers", "1", "--bind", f"unix:{path}")
    server.wait_ready(1)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert server.get()[0] == 200  # --host/--port given too: both are served
    server.signal(signal.SIGTERM)
    assert server.wait_exit(10) == 0
    assert not path.exists()


def test_broken_code_on_sighup_keeps_the_old_workers_serving(
    started: list[ServeProcess], app_dir: Path
) -> None:
    server = start(started, app_dir, "--workers", "1")
    (old,) = server.wait_ready(1)
    (app_dir / "svcapp.py").write_text("raise RuntimeError('half-deployed')\n")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: server.log().count("could not start") >= 2, 10), server.log()
    assert "next worker start in" in server.log()
    assert server.get() == (200, str(old))
    assert old in server.live_workers()
    assert server.proc.poll() is None


def test_second_sigint_forces_the_stop(started: list[ServeProcess], app_dir: Path) -> None:
    """The first INT waits for in-flight work (up to --graceful-timeout); a second one does not."""
    options = ("--workers", "1", "--timeout", "60", "--graceful-timeout", "30")
    server = start(started, app_dir, *options)
    (worker,) = server.wait_ready(1)
    blocked = threading.Thread(target=lambda: _ignore_errors(server.get, "/block", 20))
    blocked.start()
    server.wait_log("started /block")
    server.signal(signal.SIGINT)
    server.wait_log("SIGINT: stopping")  # the sentinel: the master has acted on it
    assert server.proc.poll() is None, "the first SIGINT must wait for the in-flight request"
    t0 = time.monotonic()
    server.signal(signal.SIGINT)
    server.wait_exit(10)
    assert time.monotonic() - t0 < 3, server.log()
    assert wait_until(lambda: not os.path.exists(f"/proc/{worker}"), 5), "worker left running"
    blocked.join(timeout=20)


STREAMS_APP = """
import asyncio
from asgiforge.runtime.applications import App
from asgiforge.runtime.responses import StreamingResponse
from asgiforge.runtime.routing import Route, WebSocketRoute
from asgiforge.runtime.websockets import WebSocketDisconnect


async def events(request):
    async def stream():
        n = 0
        try:
            while True:
                yield f"data: {n}\\n\\n"
                n += 1
                await asyncio.sleep(0.2)
        finally:
            print("stream ended", flush=True)

    return StreamingResponse(stream(), media_type="text/event-stream")


async def echo(websocket):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect as exc:
        print("websocket closed", exc.code, flush=True)


app = App(routes=[Route("/events", events), WebSocketRoute("/ws", echo)])
"""


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_sigterm_with_open_sse_and_websocket_exits_fast_and_cleanly(
    started: list[ServeProcess], tmp_path: Path, http: str
) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    (tmp_path / "svcapp.py").write_text(STREAMS_APP)
    server = start(started, tmp_path, "--workers", "1", "--http", http)
    server.wait_ready(1)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sse,
        connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=10) as ws,
    ):
        sse.sendall(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        received = b""
        while b"data: 0" not in received:  # the stream is running
            piece = sse.recv(65536)
            assert piece, received
            received += piece
        ws.send("hi")
        assert ws.recv(timeout=10) == "hi"
        t0 = time.monotonic()
        server.signal(signal.SIGTERM)
        while piece := sse.recv(65536):
            received += piece
        assert server.wait_exit(10) == 0
        elapsed = time.monotonic() - t0
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    log = server.log()
    assert elapsed < 2.0, log
    # The stream's generator ran its cleanup, and the response ended properly (chunked end).
    assert "stream ended" in log and "websocket closed 1012" in log
    assert received.endswith(b"0\r\n\r\n"), received[-200:]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    assert "ERROR" not in log and "Traceback" not in log, log


def test_the_master_preimports_what_each_worker_would_otherwise_import_after_the_fork() -> None:
    """The protocol classes the workers hand to uvicorn, and the wrappers each worker puts
    around the app, are loaded once, in the master: four workers importing them after the fork
    took ~0.1 s of two cores at every start."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from asgiforge.server.options import AppTarget, HTTPOptions\n"
        "from asgiforge.server.serve import master\n"
        "from asgiforge.server.serve.options import ServeOptions\n"
        "from asgiforge.server.sockets import tcp\n"
        "options = ServeOptions(AppTarget('main:app', Path('.')), (tcp('127.0.0.1', 1),))\n"
        "before = set(sys.modules)\n"
        "master._preimport(options)\n"
        "master._preimport(\n"
        "    ServeOptions(options.target, options.binds, HTTPOptions(http='h11', loop='asyncio'))\n"
        ")\n"
        "print(sorted(set(sys.modules) - before))\n"
        # What `worker.run` does around the user's app after the fork: nothing of ours is left
        # to import (the access log wrapper; the protocols and the proxy-header reading).
        "async def app(scope, receive, send): ...\n"
        "before = set(sys.modules)\n"
        "from asgiforge.server import accesslog\n"
        "accesslog.wrap(app, options.http)\n"
        "options.http.uvicorn_kwargs()\n"
        "print(sorted(n for n in set(sys.modules) - before if n.startswith('asgiforge')))\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    preimported, after_fork = result.stdout.splitlines()
    assert "'asgiforge.server.protocols'" in preimported
    assert "'asgiforge.importer'" in preimported  # the probe reads the right list
    assert after_fork == "[]"
