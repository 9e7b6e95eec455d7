"""`asgiforge update` as a user runs it, against a template in a local git repository with two
tagged versions (no network): the template's change and the project's own edits both survive,
conflicts are left as markers and listed with a non-zero exit, and nothing is written on error."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.cli.test_new import run

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}

V1 = {
    "template.toml": 'summary = "test template"\n\n[[questions]]\nkey = "greeting"\n'
    'prompt = "Greeting"\ndefault = "hello"\n',
    "README.md.jinja": "# {{ name }}\n\nline a\nline b\nline c\n",
    "{{ package }}.py.jinja": "GREETING = {{ greeting|py }}\n",
    "old.txt": "removed in v2\n",
}
V2 = {
    "template.toml": V1["template.toml"]
    + '\n[[questions]]\nkey = "colour"\nprompt = "Colour"\ndefault = "blue"\n',
    "README.md.jinja": "# {{ name }}\n\nline A from v2\nline b\nline c\n",
    "{{ package }}.py.jinja": "GREETING = {{ greeting|py }}\n",
    "config.txt.jinja": "colour = {{ colour }}\n",
}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **GIT_ENV},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def commit_files(repo: Path, files: dict[str, str], tag: str) -> None:
    for existing in repo.iterdir():
        if existing.name != ".git":
            existing.unlink()
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", tag)
    git(repo, "tag", tag)


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "tpl"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_files(repo, V1, "v1")
    commit_files(repo, V2, "v2")
    return repo


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    return lambda *args: run(list(args), monkeypatch, capsys)


@pytest.fixture
def project(cli, tmp_path: Path, template_repo: Path) -> Path:
    """A project made from v1 and committed in its own git repository."""
    code, _, err = cli("new", "demo", "--template", str(template_repo), "--vcs-ref", "v1")
    assert code == 0, err
    path = tmp_path / "demo"
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "generated")
    return path


def answers(project: Path) -> dict[str, dict[str, str]]:
    with (project / ".asgiforge-answers.toml").open("rb") as fh:
        return tomllib.load(fh)


def files_of(project: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts}


def commit_all(project: Path) -> None:
    git(project, "commit", "-q", "-am", "my edit")


def test_new_records_the_source_commit_and_answers(project: Path, template_repo: Path) -> None:
    recorded = answers(project)
    assert recorded["template"]["kind"] == "git"
    assert recorded["template"]["source"] == str(template_repo.resolve())
    assert recorded["template"]["ref"] == "v1"
    assert recorded["template"]["commit"] == git(template_repo, "rev-parse", "v1")
    assert recorded["answers"] == {"greeting": "hello"}
    assert (project / "README.md").read_text() == "# demo\n\nline a\nline b\nline c\n"
    assert (project / "old.txt").is_file()


def test_update_merges_the_template_change_with_the_project_edit(cli, project: Path) -> None:
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "line d, mine\n")
    commit_all(project)
    code, out, err = cli("update", str(project), "--vcs-ref", "v2", "--no-input")
    assert code == 0, err
    assert readme.read_text() == "# demo\n\nline A from v2\nline b\nline c\nline d, mine\n"
    assert (project / "config.txt").read_text() == "colour = blue\n"  # the new question's default
    assert not (project / "old.txt").exists()  # unchanged in the project, removed by v2
    recorded = answers(project)
    assert recorded["template"]["ref"] == "v2"
    assert recorded["answers"] == {"colour": "blue", "greeting": "hello"}
    assert "README.md" in out and "merge" in out


def test_a_conflicting_edit_leaves_markers_lists_it_and_fails(cli, project: Path) -> None:
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("line a", "line a, my wording"))
    commit_all(project)
    code, out, err = cli("update", str(project), "--vcs-ref", "v2", "--no-input")
    assert code == 1
    assert err == "error: 1 file(s) have conflicts to resolve: README.md\n"
    text = readme.read_text()
    assert "<<<<<<< project\nline a, my wording\n=======\nline A from v2\n>>>>>>> template" in text
    assert "conflict" in out
    # The rest of the update is written all the same.
    assert (project / "config.txt").is_file()


def test_update_answers_new_questions_from_data(cli, project: Path) -> None:
    code, _, err = cli("update", str(project), "--vcs-ref", "v2", "--data", "colour=red")
    assert code == 0, err
    assert (project / "config.txt").read_text() == "colour = red\n"


def test_update_asks_only_new_questions(project: Path, template_repo: Path) -> None:
    from asgiforge import updater

    asked: list[str] = []

    def ask(question):
        asked.append(question.key)
        return "green"

    plan = updater.plan_update(project, vcs_ref="v2", ask=ask)
    assert asked == ["colour"]
    assert plan.new_questions == ("colour",)


def test_a_dirty_work_tree_is_refused_unless_forced(cli, project: Path) -> None:
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "uncommitted\n")
    before = readme.read_text()
    code, _, err = cli("update", str(project), "--vcs-ref", "v2", "--no-input")
    assert code == 1
    assert err.startswith("error: the git work tree has uncommitted changes (README.md)")
    assert readme.read_text() == before
    assert not (project / "config.txt").exists()
    code, _, err = cli("update", str(project), "--vcs-ref", "v2", "--no-input", "--force")
    assert code == 0, err
    assert readme.read_text().endswith("line A from v2\nline b\nline c\nuncommitted\n")


def test_dry_run_shows_changes_and_writes_nothing(cli, project: Path) -> None:
    before = {
        p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    code, out, err = cli("update", str(project), "--vcs-ref", "v2", "--dry-run", "--json")
    assert code == 0, err
    document = json.loads(out)
    changes = {c["path"]: c["action"] for c in document["changes"]}
    assert changes["README.md"] == "update"
    assert changes["config.txt"] == "add"
    assert changes["old.txt"] == "delete"
    assert document["new_questions"] == ["colour"]
    after = files_of(project)
    assert after == before


def test_an_unknown_ref_is_one_line_and_writes_nothing(cli, project: Path) -> None:
    before = (project / ".asgiforge-answers.toml").read_bytes()
    code, _, err = cli("update", str(project), "--vcs-ref", "v9", "--no-input")
    assert code == 1
    assert err == "error: the template repository has no branch, tag or commit 'v9'\n"
    assert (project / ".asgiforge-answers.toml").read_bytes() == before


def test_a_failure_while_writing_changes_nothing(
    cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgiforge import staged_write

    calls = {"n": 0}
    real_move = staged_write._move

    def failing_move(src: Path, dest: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        real_move(src, dest)

    monkeypatch.setattr(staged_write, "_move", failing_move)
    before = {
        p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    code, _, err = cli("update", str(project), "--vcs-ref", "v2", "--no-input")
    assert code == 1
    assert "nothing was changed: No space left on device" in err
    after = files_of(project)
    assert after == before
    assert calls["n"] >= 4
    assert [p.name for p in project.parent.iterdir() if "asgiforge-update" in p.name] == []


def test_up_to_date_project_changes_nothing(cli, tmp_path: Path, template_repo: Path) -> None:
    code, _, err = cli("new", "fresh", "--template", f"git+file://{template_repo}@v2")
    assert code == 0, err
    code, out, err = cli("update", "fresh", "--force", "--vcs-ref", "v2", "--no-input")
    assert code == 0, err
    assert "Up to date" in out


def test_update_without_an_answers_file(cli, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    code, _, err = cli("update", "plain")
    assert code == 1
    assert "has no .asgiforge-answers.toml" in err


def test_a_plain_folder_template_cannot_be_updated(cli, tmp_path: Path) -> None:
    folder = tmp_path / "folder-tpl"
    folder.mkdir()
    for name, text in V1.items():
        (folder / name).write_text(text)
    code, _, err = cli("new", "p", "--template", str(folder))
    assert code == 0, err
    assert answers(tmp_path / "p")["template"]["kind"] == "path"
    code, _, err = cli("update", "p", "--force")
    assert code == 1
    assert "is a plain folder, not versioned" in err


def test_builtin_template_update_with_changed_answers(cli, tmp_path: Path) -> None:
    code, _, err = cli("new", "svc", "-t", "minimal", "--no-input")
    assert code == 0, err
    readme = tmp_path / "svc" / "README.md"
    readme.write_text(readme.read_text() + "\nMy notes.\n")
    code, _, err = cli("update", "svc", "--force", "--data", "description=Better words.")
    assert code == 0, err
    text = readme.read_text()
    assert "Better words." in text and text.endswith("\nMy notes.\n")
    assert answers(tmp_path / "svc")["answers"]["description"] == "Better words."


def test_project_deletions_and_edits_of_removed_files_are_kept(cli, project: Path) -> None:
    (project / "README.md").unlink()  # the project deleted a file the template changes
    (project / "old.txt").write_text("removed in v2\nbut I use it\n")  # edited; v2 removes it
    git(project, "add", "-A")
    commit_all(project)
    code, out, err = cli("update", str(project), "--vcs-ref", "v2", "--no-input", "--json")
    assert code == 0, err
    changes = {c["path"]: (c["action"], c["note"]) for c in json.loads(out)["changes"]}
    assert changes["README.md"] == (
        "kept",
        "deleted in the project; the template's change is skipped",
    )
    assert changes["old.txt"] == ("kept", "removed by the template but edited in the project")
    assert not (project / "README.md").exists()
    assert (project / "old.txt").read_text() == "removed in v2\nbut I use it\n"


def test_update_defaults_to_the_current_folder_and_head(
    cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    code, _, err = cli("update", "--no-input")
    assert code == 0, err
    assert (project / "config.txt").is_file()  # HEAD of the template repository is v2
    assert answers(project)["template"]["ref"] == ""


def test_new_from_a_repository_without_a_ref_renders_its_head(
    cli, tmp_path: Path, template_repo: Path
) -> None:
    code, out, err = cli("new", "headed", "--template", str(template_repo), "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["commit"] == git(template_repo, "rev-parse", "HEAD")
    assert document["source"] == f"git+{template_repo.resolve()}"
    assert (tmp_path / "headed" / "config.txt").is_file()  # v2 is HEAD
    code, out, err = cli("new", "tagged", "--template", f"git+file://{template_repo}@v1", "--json")
    assert code == 0, err
    assert json.loads(out)["commit"] == git(template_repo, "rev-parse", "v1")
    assert not (tmp_path / "tagged" / "config.txt").exists()


def test_a_bundled_wheel_of_an_older_asgiforge_is_replaced(cli, tmp_path: Path) -> None:
    from asgiforge import __version__

    repo = tmp_path / "bundling"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    toml = "bundle_asgiforge = true\n"
    files = {"template.toml": toml, "req.txt.jinja": "asgiforge{{ asgiforge_spec }}\n"}
    commit_files(repo, files, "v1")
    code, _, err = cli("new", "old-one", "--template", str(repo))
    assert code == 0, err
    project = tmp_path / "old-one"
    assert (project / "req.txt").read_text() == f"asgiforge=={__version__}\n"
    # Pretend an older asgiforge made it: its wheel, its pin, its version in the answers file.
    current = project / "wheels" / f"asgiforge-{__version__}-py3-none-any.whl"
    older = current.with_name("asgiforge-0.0.9-py3-none-any.whl")
    current.rename(older)
    (project / "req.txt").write_text("asgiforge==0.0.9\n")
    recorded = project / ".asgiforge-answers.toml"
    text = recorded.read_text().replace(f'"{__version__}"', '"0.0.9"')
    recorded.write_text(text)
    code, out, err = cli("update", "old-one", "--force", "--no-input", "--json")
    assert code == 0, err
    changes = {c["path"]: c["action"] for c in json.loads(out)["changes"]}
    assert changes["wheels/asgiforge-0.0.9-py3-none-any.whl"] == "delete"
    assert changes[f"wheels/{current.name}"] == "update"
    assert changes["req.txt"] == "update"
    assert sorted(p.name for p in (project / "wheels").iterdir()) == [current.name]
    assert (project / "req.txt").read_text() == f"asgiforge=={__version__}\n"


def test_vcs_ref_takes_a_branch_or_a_commit(cli, tmp_path: Path, template_repo: Path) -> None:
    sha = git(template_repo, "rev-parse", "v1")
    code, out, err = cli(
        "new", "by-sha", "--template", str(template_repo), "--vcs-ref", sha, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["commit"] == sha
    git(template_repo, "branch", "-q", "old-line", "v1")
    code, out, err = cli(
        "new", "by-branch", "--template", str(template_repo), "--vcs-ref", "old-line", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["commit"] == sha


def test_update_never_runs_tasks(cli, tmp_path: Path) -> None:
    repo = tmp_path / "with-tasks"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    toml = 'tasks = ["touch task-ran"]\n'
    commit_files(repo, {"template.toml": toml, "a.txt": "one\n"}, "v1")
    code, _, err = cli("new", "tasked", "--template", str(repo), "--trust")
    assert code == 0, err
    (tmp_path / "tasked" / "task-ran").unlink()
    commit_files(repo, {"template.toml": toml, "a.txt": "two\n"}, "v2")
    code, _, err = cli("update", "tasked", "--force", "--no-input")
    assert code == 0, err
    assert (tmp_path / "tasked" / "a.txt").read_text() == "two\n"
    assert not (tmp_path / "tasked" / "task-ran").exists()
