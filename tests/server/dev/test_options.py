"""`asgiforge dev`'s options: what is watched by default, and checks made when they are built."""

from __future__ import annotations

from pathlib import Path

import pytest

from asgiforge.errors import UsageError
from asgiforge.server.dev.options import DEFAULT_INCLUDES, watch_dirs, watch_includes
from asgiforge.server.options import AppTarget


def test_watch_dirs_default_to_the_project_around_the_app_dir(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "src").mkdir()
    assert watch_dirs(AppTarget("pkg:app", tmp_path / "src")) == (tmp_path.resolve(),)


def test_watch_dirs_is_the_app_dir_outside_the_project(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "pyproject.toml").write_text("")
    assert watch_dirs(AppTarget("main:app", elsewhere)) == (elsewhere.resolve(),)


def test_requested_watch_dirs_must_exist(tmp_path: Path) -> None:
    target = AppTarget("main:app", tmp_path)
    assert watch_dirs(target, [tmp_path]) == (tmp_path.resolve(),)
    with pytest.raises(UsageError, match=r"--reload-dir '.*nope' is not a directory"):
        watch_dirs(target, [tmp_path / "nope"])


def test_watch_includes_add_the_users_globs_and_the_env_file(tmp_path: Path) -> None:
    target = AppTarget("main:app", tmp_path, env_file=tmp_path / "dev.env")
    assert watch_includes(target, ["*.css"]) == (*DEFAULT_INCLUDES, "*.css", "dev.env")
    assert watch_includes(AppTarget("main:app", tmp_path)) == DEFAULT_INCLUDES
