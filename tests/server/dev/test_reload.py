"""The dev reload supervisor and worker: watch filter, error page, options, and real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asgiforge.errors import AppImportError, ServeError, UsageError
from asgiforge.server.dev.options import DevOptions, ReloadOptions
from asgiforge.server.dev.reload import WatchFilter
from asgiforge.server.dev.worker import ErrorApp, error_text
from asgiforge.server.options import AppTarget, HTTPOptions
from asgiforge.server.sockets import bind
from tests.harness import wait_until

# --- the watch filter ------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "build" / "shop"  # a project under a folder named "build" still reloads
    root.mkdir(parents=True)
    (root / "myenv").mkdir()
    (root / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    return root


def judge(watch: WatchFilter, root: Path, relative: str) -> bool:
    from watchfiles import Change

    return watch(Change.modified, str(root / relative))


@pytest.mark.parametrize(
    "relative",
    [
        "main.py",
        "shop/views/users.py",
        "templates/index.html",
        "templates/page.jinja",
        "templates/mail.j2",
        ".env",
        "pyproject.toml",
    ],
)
def test_watched_by_default(project: Path, relative: str) -> None:
    assert judge(WatchFilter([project]), project, relative)


@pytest.mark.parametrize(
    "relative",
    [
        ".venv/lib/python3.11/site-packages/x.py",
        "venv/lib/x.py",
        "myenv/lib/x.py",  # any directory holding a pyvenv.cfg
        ".git/hooks/pre-commit.py",
        "node_modules/pkg/index.html",
        "shop/__pycache__/views.cpython-311.pyc",
        "shop/__pycache__/views.py",
        "build/lib/shop/main.py",
        "dist/x.py",
        "shop.egg-info/x.py",
        "main.py~",
        ".#main.py",
        "main.py.swp",
        "data.csv",
        "static/app.js",
    ],
)
def test_ignored_by_default(project: Path, relative: str) -> None:
    assert not judge(WatchFilter([project]), project, relative)


def test_user_includes_and_excludes(project: Path) -> None:
    watch = WatchFilter([project], includes=("*.py", "*.css"), excludes=("migrations", "*_gen.py"))
    assert judge(watch, project, "static/site.css")
    assert not judge(watch, project, "shop/migrations/0001.py")
    assert not judge(watch, project, "shop/schema_gen.py")
    assert judge(watch, project, "shop/schema.py")


def test_relative_names_for_reload_lines(project: Path) -> None:
    watch = WatchFilter([project])
    assert watch.relative(str(project / "shop" / "views.py")) == os.path.join("shop", "views.py")


# --- the error page --------------------------------------------------------------------------


async def call(app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[Any]:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_error_page_html_escapes_the_error() -> None:
    app = ErrorApp("the app failed to load", "NameError: <script>alert(1)</script>")
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"accept", b"text/html")]}
    start, body = await call(app, scope, [])
    assert start["status"] == 503
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert headers[b"cache-control"] == b"no-store"
    assert int(headers[b"content-length"]) == len(body["body"])
    page = body["body"].decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "<title>503 · the app failed to load</title>" in page


@pytest.mark.anyio
async def test_error_page_plain_text_for_non_browsers() -> None:
    app = ErrorApp("the app failed to load", "SyntaxError: bad")
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    start, body = await call(app, scope, [])
    assert start["status"] == 503
    assert body["body"] == b"503 the app failed to load\n\nSyntaxError: bad"


@pytest.mark.anyio
async def test_error_app_refuses_websockets_and_runs_lifespan() -> None:
    app = ErrorApp("t", "e")
    [close] = await call(app, {"type": "websocket", "path": "/ws", "headers": []}, [])
    assert close == {"type": "websocket.close", "code": 1011}
    sent = await call(
        app, {"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    )
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_error_text_shows_the_users_traceback_not_ours() -> None:
    try:
        try:
            {}["missing"]
        except KeyError as exc:
            raise AppImportError("the import of 'm' failed: KeyError: 'missing'") from exc
    except AppImportError as wrapped:
        text = error_text(wrapped)
    assert text.startswith("the import of 'm' failed: KeyError: 'missing'\n\n")
    assert 'in test_error_text_shows_the_users_traceback_not_ours\n    {}["missing"]' in text


# --- options and the socket ------------------------------------------------------------------


def test_options_url_and_project_dirs(tmp_path: Path) -> None:
    target = AppTarget("main:app", tmp_path)
    reload = ReloadOptions(dirs=(tmp_path / "src", tmp_path))
    options = DevOptions(target, port=9000, http=HTTPOptions(root_path="/api"), reload=reload)
    assert options.url == "http://127.0.0.1:9000/api"
    assert DevOptions(target, host="::1", port=80).url == "http://[::1]:80"
    assert options.project_dirs() == (tmp_path.resolve(), (tmp_path / "src").resolve())


def test_busy_dev_port_is_a_serve_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServeError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind(DevOptions(AppTarget("main:app", tmp_path), port=port).address)


def test_dev_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="invalid port 70000"):
        DevOptions(AppTarget("main:app", tmp_path), port=70000)


# --- real supervisor processes ---------------------------------------------------------------

CRASHY_APP = textwrap.dedent(
    """
    import os

    MESSAGE = b"alive"

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/crash":
            os._exit(7)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": MESSAGE})
    """
)

FAILING_LIFESPAN = textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no database"})
    """
)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(source: str) -> tuple[int, Path]:
        (tmp_path / "main.py").write_text(source)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        log = tmp_path / "dev.log"
        with log.open("wb") as sink:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "asgiforge", "dev", "main:app", "--port", str(port)],
                    cwd=tmp_path,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        return port, log

    yield start
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=5)


def fetch(port: int, path: str = "/") -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def poll(port: int, want: Any, timeout: float = 10.0) -> tuple[int, bytes]:
    last: list[Any] = [None]

    def answered() -> bool:
        try:
            last[0] = fetch(port)
        except OSError as exc:
            last[0] = exc
            return False
        return bool(want(*last[0]))

    if wait_until(answered, timeout):
        return last[0]  # type: ignore[no-any-return]
    raise AssertionError(f"timed out, last: {last[0]!r}")


@pytest.mark.slow
def test_excluded_directories_never_trigger_a_reload(supervisor: Any, tmp_path: Path) -> None:
    port, log = supervisor(CRASHY_APP)
    poll(port, lambda status, body: body == b"alive")
    for relative in (".venv/lib/x.py", "node_modules/a/b.py", "__pycache__/c.py", "build/d.py"):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    (tmp_path / "main.py").write_text(CRASHY_APP.replace('b"alive"', 'b"edited"'))
    poll(port, lambda status, body: body == b"edited")
    for _ in range(100):
        if "reloaded in" in log.read_text():
            break
        time.sleep(0.05)
    lines = [line for line in log.read_text().splitlines() if "reloaded in" in line]
    assert len(lines) == 1 and "main.py" in lines[0]
    assert ".venv" not in lines[0] and "node_modules" not in lines[0]


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced(supervisor: Any) -> None:
    port, log = supervisor(CRASHY_APP)
    poll(port, lambda status, body: body == b"alive")
    with pytest.raises(OSError):
        fetch(port, "/crash")
    poll(port, lambda status, body: body == b"alive")
    for _ in range(100):
        if "exited on its own" in log.read_text():
            break
        time.sleep(0.05)
    assert "the app's process exited on its own" in log.read_text()


@pytest.mark.slow
def test_failed_lifespan_startup_serves_the_error_page(supervisor: Any) -> None:
    port, _ = supervisor(FAILING_LIFESPAN)
    _, body = poll(port, lambda status, body: status == 503)
    assert b"start-up failed" in body
