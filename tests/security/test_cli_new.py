"""`asgiforge new` with hostile names and targets, run as a user runs it (a real process):
nothing is ever written outside the target, through a symlink, or as template source."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _wheel_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """One wheel of asgiforge per test session (bundled into projects), outside the user's home."""
    monkeypatch.setenv("ASGIFORGE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "wheel-cache"))


def new(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asgiforge", "new", "--no-input", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(
    "name",
    ["../escape", "/tmp/abs", "..", "a/../../b", "x\x1b]0;title\x07", "x\r\ny", "~root", "{{7*7}}"],
)
def test_hostile_names_are_refused_and_write_nothing(tmp_path: Path, name: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = new(work, "--", name)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert snapshot(tmp_path) == {"work"}


def test_symlinked_target_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "svc").symlink_to(outside)
    result = new(tmp_path / "work", "svc")
    assert result.returncode != 0
    assert list(outside.iterdir()) == []


def test_existing_file_as_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "svc").write_text("mine")
    result = new(tmp_path, "svc")
    assert result.returncode != 0
    assert (tmp_path / "svc").read_text() == "mine"


def test_force_never_writes_through_a_symlink_inside_the_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim.toml"
    victim.write_text("precious")
    target = tmp_path / "svc"
    target.mkdir()
    (target / "pyproject.toml").symlink_to(victim)
    result = new(tmp_path, "svc", "--force")
    assert victim.read_text() == "precious"
    if result.returncode == 0:
        assert not (target / "pyproject.toml").is_symlink()


def test_template_syntax_in_values_stays_data(tmp_path: Path) -> None:
    payload = "{% include '/etc/passwd' %}{{ ''.__class__.__mro__ }}{{ 7*7 }}"
    result = new(tmp_path, "svc", "-t", "minimal", "-o", f"description={payload}")
    assert result.returncode == 0, result.stderr
    text = "\n".join(
        p.read_text() for p in (tmp_path / "svc").rglob("*") if p.is_file() and p.suffix != ".whl"
    )
    assert payload in text or repr(payload)[1:-1] in text
    assert "root:" not in text
