"""`python -m asgiforge`: the CLI wherever the console script is not on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from asgiforge import __version__
from tests.harness import run_bounded


def run_module(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m asgiforge ARGS`, bounded in time, its process group always killed."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return run_bounded([sys.executable, "-m", "asgiforge", *args], cwd=cwd, env=env)


def test_version(tmp_path: Path) -> None:
    result = run_module(tmp_path, "--version")
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"asgiforge {__version__}\n",
        "",
    )


def test_version_among_other_arguments_goes_through_typer(tmp_path: Path) -> None:
    # Not the `--version`-only fast path: the eager Typer option answers the same way.
    result = run_module(tmp_path, "--version", "routes")
    assert (result.returncode, result.stdout) == (0, f"asgiforge {__version__}\n")


def test_runs_commands_and_maps_errors_like_the_console_script(tmp_path: Path) -> None:
    result = run_module(tmp_path, "no-such-command")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "no-such-command" in result.stderr
    assert len(result.stderr.splitlines()) == 1
