"""`asgiforge new` with hostile names and targets, run as a user runs it (a real process):
nothing is ever written outside the target, through a symlink, or as template source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


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


# ------------------------------------------------------------------------- hostile templates


def make_template(root: Path, files: dict[str, str], toml: str = 'summary = "x"\n') -> Path:
    root.mkdir(parents=True)
    (root / "template.toml").write_text(toml)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def refused_and_nothing_written(tmp_path: Path, template: Path, *extra: str) -> str:
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(tmp_path)
    result = new(work, "svc", "--template", str(template), *extra)
    assert result.returncode != 0, result.stdout
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before
    return result.stderr


@pytest.mark.parametrize("evil", ["../../x", "/tmp/abs-x", "..", "~/x", "a\\..\\..\\x"])
def test_a_file_name_that_renders_outside_is_refused(tmp_path: Path, evil: str) -> None:
    toml = f'[[questions]]\nkey = "where"\ndefault = {evil!r}\n'.replace("'", '"')
    toml = toml.replace("\\", "\\\\")
    template = make_template(tmp_path / "tpl", {"{{ where }}.jinja": "owned\n"}, toml)
    err = refused_and_nothing_written(tmp_path, template)
    assert "renders to an unsafe name" in err


def test_a_symlinked_file_out_of_the_template_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    template = make_template(tmp_path / "tpl", {"ok.txt": "ok\n"})
    (template / "leak.txt").symlink_to(secret)
    err = refused_and_nothing_written(tmp_path, template)
    assert "is a symlink; refusing it" in err


def test_a_symlinked_folder_out_of_the_template_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "id_rsa").write_text("key\n")
    template = make_template(tmp_path / "tpl", {"ok.txt": "ok\n"})
    (template / "dir").symlink_to(outside, target_is_directory=True)
    err = refused_and_nothing_written(tmp_path, template)
    assert "is a symlink; refusing it" in err


@pytest.mark.parametrize("layer", ["/etc", "../outside", "inside/../../outside"])
def test_a_layer_outside_the_template_is_refused(tmp_path: Path, layer: str) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.txt").write_text("x\n")
    template = make_template(tmp_path / "tpl", {"inside/a.txt": "a\n"}, f'layers = ["{layer}"]\n')
    err = refused_and_nothing_written(tmp_path, template)
    assert "is not a folder inside the template" in err


def test_an_include_of_a_file_outside_the_template_fails(tmp_path: Path) -> None:
    template = make_template(tmp_path / "tpl", {"a.txt.jinja": "{% include '../../etc/passwd' %}"})
    err = refused_and_nothing_written(tmp_path, template)
    assert "a.txt.jinja failed to render" in err


def test_tasks_without_trust_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    template = make_template(
        tmp_path / "tpl", {"a.txt": "a\n"}, f'tasks = [["touch", "{marker}"]]\n'
    )
    err = refused_and_nothing_written(tmp_path, template)
    assert err.startswith("error: the template 'tpl' wants to run 1 command(s) (touch ")
    assert "pass --trust" in err
    assert not marker.exists()


def test_tasks_run_in_the_project_with_trust(tmp_path: Path) -> None:
    template = make_template(
        tmp_path / "tpl", {"a.txt": "a\n"}, 'tasks = ["touch made-by-task", ["ls"]]\n'
    )
    work = tmp_path / "work"
    work.mkdir()
    result = new(work, "svc", "--template", str(template), "--trust", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tasks"] == [["touch", "made-by-task"], ["ls"]]
    assert "made-by-task" in result.stderr  # the output of `ls`, kept off the JSON
    assert (work / "svc" / "made-by-task").is_file()
    assert (work / "svc" / "a.txt").read_text() == "a\n"


def test_a_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    gadget = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    template = make_template(tmp_path / "tpl", {"a.txt.jinja": gadget})
    err = refused_and_nothing_written(tmp_path, template)
    assert "a.txt.jinja failed to render" in err
    assert "unsafe" in err


def _git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env, timeout=60)


def test_a_symlink_committed_in_a_git_template_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    repo = make_template(tmp_path / "repo", {"ok.txt": "ok\n"})
    (repo / "leak.txt").symlink_to(secret)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "v1")
    err = refused_and_nothing_written(tmp_path, repo)
    assert "leak.txt is a symlink; refusing it" in err


def test_a_git_url_cannot_run_a_command(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    work = tmp_path / "work"
    work.mkdir()
    result = new(work, "svc", "--template", f"git+ext::sh -c touch% {marker}")
    assert result.returncode == 1
    assert result.stderr.startswith("error: git clone failed:")
    assert result.stderr.count("\n") == 1
    assert not marker.exists()
    assert list(work.iterdir()) == []
