"""The top-level help replayed from a cache (`asgiforge/cli/_helpcache.py`) is Typer's, exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asgiforge import __version__


def run(*args: str, cache: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "XDG_CACHE_HOME": str(cache), **env}
    environment.pop("ASGIFORGE_NO_HELP_CACHE", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "asgiforge", *args],
        capture_output=True,
        timeout=60,
        env=environment,
    )


def entries(cache: Path) -> list[Path]:
    folder = cache / "asgiforge" / "help"
    return sorted(folder.glob("*.json")) if folder.exists() else []


@pytest.mark.parametrize("args", [("--help",), ()])
def test_cached_help_is_byte_identical_to_typers(tmp_path: Path, args: tuple[str, ...]) -> None:
    reference = run(*args, cache=tmp_path / "unused", ASGIFORGE_NO_HELP_CACHE="1")
    assert entries(tmp_path / "unused") == []
    first = run(*args, cache=tmp_path)  # rendered by Typer, recorded
    assert len(entries(tmp_path)) == 1
    second = run(*args, cache=tmp_path)  # replayed
    for result in (first, second):
        assert result.returncode == reference.returncode
        assert result.stdout == reference.stdout
        assert result.stderr == reference.stderr
    assert b"serve" in second.stdout
    assert reference.returncode == (0 if args else 2)


def test_each_terminal_width_gets_its_own_entry(tmp_path: Path) -> None:
    narrow = run("--help", cache=tmp_path, COLUMNS="60")
    wide = run("--help", cache=tmp_path, COLUMNS="120")
    assert narrow.stdout != wide.stdout
    assert len(entries(tmp_path)) == 2
    assert run("--help", cache=tmp_path, COLUMNS="60").stdout == narrow.stdout
    assert max(len(line) for line in narrow.stdout.decode().splitlines()) <= 60


def test_a_damaged_entry_falls_back_to_typer(tmp_path: Path) -> None:
    reference = run("--help", cache=tmp_path)
    (entry,) = entries(tmp_path)
    entry.write_text("{not json")
    again = run("--help", cache=tmp_path)
    assert again.returncode == 0
    assert again.stdout == reference.stdout


def test_version_is_answered_without_typer(tmp_path: Path) -> None:
    result = run("--version", cache=tmp_path)
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"asgiforge {__version__}"
    code = "import sys; sys.argv = ['asgiforge', '--version']\n"
    code += "from asgiforge.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
    code += "print('typer' in sys.modules)"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert probe.stdout.splitlines()[-1] == "False"


def test_other_commands_are_never_cached(tmp_path: Path) -> None:
    result = run("routes", "--help", cache=tmp_path)
    assert result.returncode == 0
    assert entries(tmp_path) == []
