"""The assembled CLI (`asgiforge/cli/__init__.py`): version, help, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from asgiforge import __version__


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asgiforge", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"asgiforge {__version__}"


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("new", "routes", "dev", "serve"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("nonexistent",), "No such command 'nonexistent'"),
        (("routes", "--bogus"), "No such option: --bogus"),
        (("serve", "--workers", "abc"), "Invalid value for '--workers'"),
    ],
)
def test_usage_errors_are_one_line(args: tuple[str, ...], expected: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_domain_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = run("routes", "no_such_module_xyz:app", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no_such_module_xyz" in lines[0]
    assert "Traceback" not in result.stderr
