"""`asgiforge dev` as a real process on 127.0.0.1: edit, break, fix; WebSockets and streams.

Every test starts the command in its own session (process group) and kills the group in a
fixture; every wait is a loop bounded in count and time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness import free_port, run_bounded, wait_until
from tests.servers import kill_group

pytestmark = pytest.mark.slow

APP = textwrap.dedent(
    """
    import asyncio

    MESSAGE = b"version one"

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": MESSAGE.decode()})
            while (await receive())["type"] != "websocket.disconnect":
                pass
            return
        if scope["path"] == "/stream":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            while True:  # an SSE stream that never ends on its own
                await send({"type": "http.response.body", "body": b"data: tick\\n\\n",
                            "more_body": True})
                await asyncio.sleep(0.05)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": MESSAGE})
    """
)


@dataclass
class Dev:
    process: subprocess.Popen[bytes]
    port: int
    root: Path
    log: Path
    scheme: str = "http"
    # For HTTPS: the context that trusts the test CA.
    context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str = "/", accept: str = "text/plain") -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, headers={"accept": accept})
        try:
            with urllib.request.urlopen(request, timeout=5, context=self.context) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def wait_for(self, predicate: Callable[[int, str], bool], timeout: float = 10.0) -> str:
        """Poll until predicate(status, body); bounded in time."""
        last: list[object] = [None]

        def answered() -> bool:
            try:
                last[0] = self.get()
            except OSError as exc:
                last[0] = exc
                return False
            return isinstance(last[0], tuple) and predicate(*last[0])

        if wait_until(answered, timeout):
            assert isinstance(last[0], tuple)
            return str(last[0][1])
        raise AssertionError(f"timed out; last answer {last[0]!r}\n--- output ---\n{self.output()}")

    def wait_output(self, text: str, timeout: float = 10.0) -> str:
        """Wait (bounded) until the command has printed `text`; return the whole output."""
        if wait_until(lambda: text in self.output(), timeout, 0.05):
            return self.output()
        raise AssertionError(f"{text!r} never printed\n--- output ---\n{self.output()}")

    def edit(self, old: str, new: str) -> None:
        path = self.root / "main.py"
        path.write_text(path.read_text().replace(old, new))


@pytest.fixture
def start_dev(tmp_path: Path) -> Iterator[Callable[..., Dev]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(
        *args: str,
        app: str = APP,
        env: dict[str, str] | None = None,
        project: Path | None = None,
        context: ssl.SSLContext | None = None,
    ) -> Dev:
        # `project`: run there, the app found by the usual search (pyproject, conventions).
        root = project or tmp_path
        target = []
        if project is None:
            (tmp_path / "main.py").write_text(app)
            target = ["main:app"]
        port = free_port()
        log = tmp_path / "dev.log"
        command = [sys.executable, "-m", "asgiforge", "dev", *target, "--port", str(port)]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [*command, *args],
                cwd=root,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "COLUMNS": "120", **(env or {})},
            )
        processes.append(process)
        dev = Dev(process, port, root, log, "https" if context else "http", context)
        dev.wait_for(lambda status, body: status == 200)
        return dev

    yield start
    for process in processes:
        kill_group(process, timeout=8)


def test_banner_then_edit_break_fix(start_dev: Callable[..., Dev]) -> None:
    dev = start_dev()
    assert dev.get() == (200, "version one")
    output = dev.wait_output("watching")
    assert "asgiforge dev" in output and "main:app" in output
    assert f"http://127.0.0.1:{dev.port}" in output and str(dev.root) in output

    dev.edit("version one", "version two")
    dev.wait_for(lambda status, body: body == "version two")

    dev.edit("import asyncio", "import asyncio\ndef broken(:")
    body = dev.wait_for(lambda status, body: status == 503)
    assert "the import of 'main' failed: SyntaxError" in body
    assert "main.py, line 3" in body
    status, page = dev.get(accept="text/html")
    assert status == 503 and "<pre id=error>" in page and "SyntaxError" in page

    dev.edit("import asyncio\ndef broken(:", "import asyncio")
    dev.wait_for(lambda status, body: body == "version two")
    output = dev.wait_output("reloaded in", timeout=5)
    assert "main.py" in output
    assert "load failed" in output and "SyntaxError" in output


def test_import_error_in_user_code_shows_on_the_page(start_dev: Callable[..., Dev]) -> None:
    dev = start_dev()
    dev.edit("import asyncio", "import asyncio\nimport not_a_real_dependency")
    body = dev.wait_for(lambda status, body: status == 503)
    assert "No module named 'not_a_real_dependency'" in body
    assert 'main.py", line 3, in <module>' in body  # the user's frame is shown...
    assert "importlib" not in body and "importer.py" not in body  # ...the loader's are not
    dev.edit("import asyncio\nimport not_a_real_dependency", "import asyncio")
    dev.wait_for(lambda status, body: status == 200)


def test_open_websocket_does_not_block_the_reload(start_dev: Callable[..., Dev]) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    # A long grace period: the new code must come up without waiting for it.
    dev = start_dev("--graceful-timeout", "30")
    with connect(f"ws://127.0.0.1:{dev.port}/ws", open_timeout=5) as ws:
        assert ws.recv(timeout=5) == "version one"
        started = time.monotonic()
        dev.edit("version one", "version two")
        dev.wait_for(lambda status, body: body == "version two", timeout=5)
        assert time.monotonic() - started < 5
        # The old worker closes the socket with 1012 (service restart) so clients reconnect.
        with pytest.raises(ConnectionClosed) as info:
            for _ in range(100):
                ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1012
    with connect(f"ws://127.0.0.1:{dev.port}/ws", open_timeout=5) as ws:
        assert ws.recv(timeout=5) == "version two"


def test_open_stream_is_cut_after_the_grace_period(start_dev: Callable[..., Dev]) -> None:
    dev = start_dev("--graceful-timeout", "1")
    with socket.create_connection(("127.0.0.1", dev.port), timeout=10) as stream:
        stream.sendall(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        received = b""
        for _ in range(50):  # headers and the first event may come in separate packets
            received += stream.recv(4096)
            if b"data: tick" in received:
                break
        assert b"data: tick" in received
        dev.edit("version one", "version two")
        dev.wait_for(lambda status, body: body == "version two", timeout=5)
        cut_at = time.monotonic() + 8
        closed = False
        while time.monotonic() < cut_at:
            if not stream.recv(65536):
                closed = True
                break
        assert closed, "the old stream was never closed"


def test_port_from_environment_and_no_reload(tmp_path: Path, start_dev: Callable[..., Dev]) -> None:
    port = free_port()
    (tmp_path / "main.py").write_text(APP)
    log = tmp_path / "plain.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "asgiforge", "dev", "--no-reload"],
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PORT": str(port)},
        )
    try:
        dev = Dev(process, port, tmp_path, log)
        dev.wait_for(lambda status, body: body == "version one")
        dev.edit("version one", "version two")
        time.sleep(0.5)
        assert dev.get() == (200, "version one")  # nothing watches with --no-reload
    finally:
        kill_group(process)


def test_no_reload_with_broken_app_fails_fast(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("import not_a_real_dependency\n")
    result = subprocess.run(
        [sys.executable, "-m", "asgiforge", "dev", "--no-reload", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
        check=False,
    )
    assert result.returncode == 3
    assert "the import of 'main' failed: ModuleNotFoundError" in result.stderr


def test_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(APP)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "asgiforge", "dev", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            start_new_session=True,
            check=False,
        )
    assert result.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@pytest.mark.browser
@pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="needs Debian's chromium and chromium-driver (CI installs them)",
)
def test_error_page_in_a_real_browser(start_dev: Callable[..., Dev], tmp_path: Path) -> None:
    """The 503 page as a developer sees it: the error text shown, then the fix picked up."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    dev = start_dev()
    dev.edit("import asyncio", "import asyncio\nundefined_name + 1  # <b>not bold</b>")
    dev.wait_for(lambda status, body: status == 503)

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--window-size=1100,800",
        f"--user-data-dir={tmp_path / 'p'}",
    ):
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, popen_kw={"start_new_session": True})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    try:
        driver.get(dev.url + "/")
        assert driver.title == "503 · the app failed to load"
        assert driver.find_element(By.CSS_SELECTOR, "h1").text == "the app failed to load"
        error = driver.find_element(By.ID, "error").text
        assert "NameError: name 'undefined_name' is not defined" in error
        assert "<b>not bold</b>" in error  # shown as text, never as markup
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "dev-error-page.png"))

        dev.edit("\nundefined_name + 1  # <b>not bold</b>", "")
        dev.wait_for(lambda status, body: body == "version one")
        driver.get(dev.url + "/")
        assert driver.find_element(By.TAG_NAME, "body").text == "version one"
    finally:
        driver.quit()


RUNTIME_APP = textwrap.dedent(
    """
    import os
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.responses import PlainTextResponse
    from asgiforge.runtime.routing import Route

    async def home(request):
        return PlainTextResponse(os.environ.get("GREETING", "unset"))

    async def boom(request):
        raise RuntimeError("kaboom from the handler")

    app = App(routes=[Route("/", home), Route("/boom", boom)])
    """
)


def test_env_file_is_watched_and_debug_is_on(start_dev: Callable[..., Dev], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GREETING=hello\n")
    dev = start_dev("--env-file", ".env", app=RUNTIME_APP)
    assert dev.get() == (200, "hello")
    assert "routes    2" in dev.wait_output("watching")
    status, body = dev.get("/boom")
    assert status == 500 and "kaboom from the handler" in body  # the debug traceback page
    (tmp_path / ".env").write_text("GREETING=bye\n")
    dev.wait_for(lambda status, body: body == "bye")


def test_no_debug_hides_tracebacks(start_dev: Callable[..., Dev]) -> None:
    dev = start_dev("--no-debug", app=RUNTIME_APP)
    status, body = dev.get("/boom")
    assert status == 500 and "kaboom" not in body


# --- configuration: .env, layers, TLS ------------------------------------------------------


@pytest.fixture
def full_project(tmp_path: Path) -> Path:
    """A project made by `asgiforge new --template full`, as a user gets it."""
    result = run_bounded(
        [
            sys.executable,
            "-m",
            "asgiforge",
            "new",
            "shop",
            "-t",
            "full",
            "--dir",
            "shop",
            "--no-input",
        ],
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return tmp_path / "shop"


def _post(dev: Dev, path: str, body: bytes) -> int:
    request = urllib.request.Request(
        dev.url + path, data=body, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        exc.close()
        return int(exc.code)


def test_dev_loads_dotenv_of_the_full_template(
    start_dev: Callable[..., Dev], full_project: Path
) -> None:
    # The issue's case: MAX_BODY_SIZE=10 in .env, a 40-byte body to the feedback endpoint.
    (full_project / ".env").write_text("MAX_BODY_SIZE=10\nDEBUG=false\nCORS_ORIGINS=\n")
    body = b'{"text": "' + b"x" * 28 + b'"}'
    assert len(body) == 40
    dev = start_dev(project=full_project)
    assert "env       .env (3 variables)" in dev.wait_output("watching")
    assert _post(dev, "/api/feedback", body) == 413


def test_no_env_file_leaves_dotenv_alone(start_dev: Callable[..., Dev], full_project: Path) -> None:
    (full_project / ".env").write_text("MAX_BODY_SIZE=10\n")
    body = b'{"text": "' + b"x" * 28 + b'"}'
    dev = start_dev("--no-env-file", project=full_project)
    assert _post(dev, "/api/feedback", body) == 202
    assert "env  " not in dev.wait_output("watching")


def _print_config(project: Path, *args: str, env: dict[str, str]) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if k not in ("PORT",)}
    result = run_bounded(
        [sys.executable, "-m", "asgiforge", "dev", "--print-config", "--json", *args],
        cwd=project,
        env={**base, **env},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    options: dict[str, Any] = json.loads(result.stdout)["options"]
    return options


def test_dev_layers_through_the_real_cli(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(APP)
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.asgiforge.dev]\nport = 8100\nreload-exclude = ["*.log"]\ndebug = false\n'
        "graceful-timeout = 1.5\n"
    )
    options = _print_config(tmp_path, "--graceful-timeout", "2", env={"ASGIFORGE_DEBUG": "1"})
    pyproject = str(tmp_path / "pyproject.toml")
    assert options["port"] == {"value": 8100, "source": "pyproject", "from": pyproject}
    assert options["reload-exclude"]["value"] == ["*.log"]
    assert options["debug"] == {"value": True, "source": "env", "from": "ASGIFORGE_DEBUG"}
    assert options["graceful-timeout"] == {"value": 2.0, "source": "cli"}
    assert options["env-file"]["value"] == ".env"
    options = _print_config(tmp_path, env={"ASGIFORGE_DOTENV": "false"})
    assert options["env-file"]["value"] is None


def test_dev_serves_https_with_the_tls_options(
    start_dev: Callable[..., Dev], tmp_path: Path
) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "cert.pem"))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    dev = start_dev("--ssl-certfile", "cert.pem", "--ssl-ciphers", "ECDHE+AESGCM", context=context)
    assert dev.get() == (200, "version one")
    assert f"https://127.0.0.1:{dev.port}" in dev.wait_output("watching")


def test_help_shows_each_options_variables_and_dev_defaults(tmp_path: Path) -> None:
    result = run_bounded(
        [sys.executable, "-m", "asgiforge", "dev", "--help"],
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200", "TERM": "dumb"},
        timeout=30,
    )
    assert result.returncode == 0
    assert "[env: ASGIFORGE_GRACEFUL_TIMEOUT] [default: 3.0]" in result.stdout
    assert "[env: ASGIFORGE_PORT, PORT] [default: 8000]" in result.stdout
    for flag in ("--no-env-file", "--no-reload", "--no-debug", "--ssl-cert-reqs", "--print-config"):
        assert flag in result.stdout


def test_check_config_imports_the_app_without_serving(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("import os\nNAME = os.environ['NOT_SET_ANYWHERE_H1']\n" + APP)
    broken = run_bounded([sys.executable, "-m", "asgiforge", "dev", "--check-config"], cwd=tmp_path)
    assert broken.returncode == 3
    assert broken.stderr.startswith("error: ") and "KeyError" in broken.stderr.splitlines()[0]
    (tmp_path / ".env").write_text("NOT_SET_ANYWHERE_H1=1\n")  # dev loads .env: now it imports
    fixed = run_bounded([sys.executable, "-m", "asgiforge", "dev", "--check-config"], cwd=tmp_path)
    assert (fixed.returncode, fixed.stdout.strip()) == (0, "ok: main:app imports")
    alone = run_bounded([sys.executable, "-m", "asgiforge", "dev", "--json"], cwd=tmp_path)
    assert (alone.returncode, alone.stderr) == (2, "error: --json goes with --print-config\n")


def test_the_banner_comes_before_the_first_access_log_line_when_redirected(
    start_dev: Callable[..., Dev],
) -> None:
    """Output to a file (as under a process manager): the fixture's first request goes out the
    moment the port answers, and its access-log line still follows the banner."""
    dev = start_dev()
    dev.get()
    output = dev.wait_output('"GET / HTTP/1.1" 200')
    assert "asgiforge dev" in output, output
    assert output.index("asgiforge dev") < output.index('"GET / HTTP/1.1"'), output
    assert output.index("watching") < output.index('"GET / HTTP/1.1"'), output
    assert output.count("asgiforge dev") == 1, output
