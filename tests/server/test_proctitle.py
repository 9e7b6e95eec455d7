"""Process titles: the real `serve` master and workers, and `dev`, as `ps` shows them."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from asgiforge.server import proctitle
from tests.harness import free_port, wait_until
from tests.server.serve_process import ServeProcess, write_app
from tests.servers import kill_group, spawn


def title(pid: int) -> str:
    """What ``ps -o args`` shows: /proc/<pid>/cmdline, its NUL separators as spaces."""
    return " ".join(psutil.Process(pid).cmdline()).strip()


def test_titles_name_the_role_the_app_and_where_it_listens() -> None:
    master = proctitle.master_title("main:app", ["http://0.0.0.0:8000", "unix:/run/a.sock"])
    assert master == "asgiforge master main:app http://0.0.0.0:8000 unix:/run/a.sock"
    assert proctitle.worker_title(3, "pkg.main:create") == "asgiforge worker 3 pkg.main:create"
    assert proctitle.dev_title("main:app", "http://127.0.0.1:8000") == (
        "asgiforge dev main:app http://127.0.0.1:8000"
    )
    assert proctitle.dev_worker_title("main:app") == "asgiforge dev worker main:app"
    # User data never puts a newline or NUL into `ps` output.
    assert proctitle.worker_title(1, "a\nb\0c") == "asgiforge worker 1 a?b?c"


def test_without_setproctitle_nothing_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "setproctitle", None)  # `import` raises ImportError
    before = title(os.getpid())
    assert proctitle.set_title("asgiforge worker 1 main:app") is False
    assert title(os.getpid()) == before


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[list[ServeProcess]]:
    servers: list[ServeProcess] = []
    try:
        yield servers
    finally:
        for server in servers:
            server.close()


@pytest.mark.slow
def test_serve_master_and_workers_have_their_own_titles(
    serve: list[ServeProcess], tmp_path: Path
) -> None:
    server = ServeProcess(write_app(tmp_path), "--workers", "2")
    serve.append(server)
    workers = server.wait_ready(2)
    assert title(server.pid) == f"asgiforge master svcapp:app http://127.0.0.1:{server.port}"
    assert sorted(title(pid) for pid in workers) == [
        "asgiforge worker 1 svcapp:app",
        "asgiforge worker 2 svcapp:app",
    ]
    # A replacement takes the slot of the worker it replaces.
    killed = workers[0]
    number = title(killed).split()[2]
    os.kill(killed, signal.SIGKILL)
    server.wait_ready(3)
    replacement = server.ready_pids()[-1]
    assert title(replacement) == f"asgiforge worker {number} svcapp:app"


@pytest.mark.slow
def test_serve_without_setproctitle_serves_under_its_command_line(
    serve: list[ServeProcess], tmp_path: Path
) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "setproctitle.py").write_text("raise ImportError('not installed')\n")
    path = os.pathsep.join([str(shim), *filter(None, [os.environ.get("PYTHONPATH")])])
    server = ServeProcess(write_app(tmp_path), "--workers", "2", env={"PYTHONPATH": path})
    serve.append(server)
    workers = server.wait_ready(2)
    assert server.get("/")[0] == 200
    for pid in (server.pid, *workers):
        assert "asgiforge.server.serve.master_exec" in title(pid)
        assert "serve svcapp:app" in title(pid)


@pytest.mark.slow
def test_dev_supervisor_and_worker_have_their_own_titles(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n"
    )
    port = free_port()
    process = spawn(
        [sys.executable, "-m", "asgiforge", "dev", "main:app", "--port", str(port)], cwd=tmp_path
    )
    try:
        supervisor = psutil.Process(process.pid)
        expected = f"asgiforge dev main:app http://127.0.0.1:{port}"
        assert wait_until(lambda: title(process.pid) == expected, 15), title(process.pid)
        assert wait_until(lambda: supervisor.children(), 15)
        worker = supervisor.children()[0].pid
        assert wait_until(lambda: title(worker) == "asgiforge dev worker main:app", 10)
    finally:
        kill_group(process, timeout=10)


@pytest.mark.slow
def test_dev_without_reload_is_one_process_titled_dev(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("async def app(scope, receive, send):\n    pass\n")
    port = free_port()
    process = spawn(
        [sys.executable, "-m", "asgiforge", "dev", "main:app", "--no-reload", "--port", str(port)],
        cwd=tmp_path,
    )
    try:
        expected = f"asgiforge dev main:app http://127.0.0.1:{port}"
        assert wait_until(lambda: title(process.pid) == expected, 15), title(process.pid)
        assert psutil.Process(process.pid).children() == []
    finally:
        kill_group(process, timeout=10)
