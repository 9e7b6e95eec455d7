"""`asgiforge serve` flags: every mistake is one line on stderr and a non-zero exit, at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.serve_process import free_port, write_app


def run_serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a serve command expected to fail fast; its process group is killed if it does not."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "asgiforge", "serve", *args],
        cwd=write_app(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        out, _ = proc.communicate(timeout=20)
    finally:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
    return proc.returncode, out.decode()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--workers", "0"], 2, "error: --workers must be at least 1 (got 0)"),
        (["--loop", "tokio"], 2, "error: --loop must be one of auto, asyncio, uvloop"),
        (["--http", "h3"], 2, "error: --http must be one of auto, h11, httptools"),
        (["--timeout", "0"], 2, "error: --timeout must be positive (got 0)"),
        (["--bind", "nowhere"], 2, "error: invalid --bind 'nowhere': expected host:port"),
        (["--ssl-certfile", "missing.pem"], 3, "error: cannot read --ssl-certfile missing.pem"),
        (["--ssl-keyfile", "svcapp.py"], 2, "error: --ssl-keyfile needs --ssl-certfile"),
        (["--max-requests", "0"], 2, "error: --max-requests must be at least 1 (got 0)"),
        (["--header-timeout", "0"], 2, "error: --header-timeout must be positive (got 0)"),
        (["--limit-request-line", "0"], 2, "error: --limit-request-line must be at least 1"),
        (["--limit-request-fields", "0"], 2, "error: --limit-request-fields must be at least 1"),
        (["--ws-max-size", "0"], 2, "error: --ws-max-size must be at least 1 (got 0)"),
        (["--timeout-keep-alive", "0"], 2, "error: --timeout-keep-alive must be at least 1"),
    ],
)
def test_bad_flags_are_one_line_errors(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    status, output = run_serve(tmp_path, "svcapp:app", "--port", str(free_port()), *args)
    assert status == code
    assert output.strip().startswith(message)
    assert len(output.strip().splitlines()) == 1


def test_unreadable_certificate_content_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    status, output = run_serve(
        tmp_path, "svcapp:app", "--port", str(free_port()), "--ssl-certfile", "cert.pem"
    )
    assert status == 3
    assert output.strip().startswith("error: cannot load TLS certificate cert.pem")
    assert len(output.strip().splitlines()) == 1


def test_app_that_does_not_exist_fails_before_serving(tmp_path: Path) -> None:
    status, output = run_serve(
        tmp_path, "svcapp:nope", "--host", "127.0.0.1", "--port", str(free_port()), "-w", "1"
    )
    assert status == 2
    last = output.strip().splitlines()[-1]
    assert last == "error: module 'svcapp' has no attribute 'nope'"
    assert "ready" not in output


def test_web_concurrency_env_is_validated_like_the_flag(tmp_path: Path) -> None:
    # Validated by the same dataclass as --workers, and the message says the value came from
    # the variable, not the flag.
    status, output = run_serve(
        tmp_path, "svcapp:app", "--port", str(free_port()), env={"WEB_CONCURRENCY": "0"}
    )
    assert status == 2
    expected = "error: WEB_CONCURRENCY='0' (environment): --workers must be at least 1 (got 0)"
    assert output.strip() == expected


def test_help_lists_the_production_options(tmp_path: Path) -> None:
    status, output = run_serve(tmp_path, "--help", env={"COLUMNS": "200", "TERM": "dumb"})
    assert status == 0
    for flag in (
        "--bind",
        "--fd",
        "--workers",
        "--timeout",
        "--graceful-timeout",
        "--max-requests-jitter",
        "--max-worker-memory",
        "--pid",
        "--forwarded-allow-ips",
        "--no-access-log",
    ):
        assert flag in output
