"""`asgiforge new` as a user runs it: messages, exit codes, files made, and generated projects
that lint clean and pass their own tests."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from asgiforge import scaffold
from asgiforge.cli import main
from tests.harness import run_bounded

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HOSTILE = "{{ 7*7 }} \"double\" 'single' \\back\\slash\nsecond line </p><script>alert(1)</script>"


def run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run the real entry point (`main`, which maps errors to exit codes) in-process."""
    monkeypatch.setattr(sys, "argv", ["asgiforge", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    return lambda *args: run(list(args), monkeypatch, capsys)


# --------------------------------------------------------------------------- rejected names

REJECTED = [
    ("", "the project name is empty"),
    ("   ", "the project name is empty"),
    ("x" * 65, "the project name is 65 characters long; at most 64 allowed"),
    ("a/b", "the project name 'a/b' contains a path separator"),
    ("a\\b", "the project name 'a\\\\b' contains a path separator"),
    ("../evil", "the project name '../evil' contains a path separator"),
    ("a..b", "the project name 'a..b' contains '..'"),
    ("..", "the project name '..' contains '..'"),
    ("bad\nname", "the project name 'bad\\nname' contains a control character"),
    ("esc\x1b[2J", "the project name 'esc\\x1b[2J' contains a control character"),
    ("nul\x00", "the project name 'nul\\x00' contains a control character"),
    ("my app", "the project name 'my app' is not a valid distribution name"),
    ("-app", "the project name '-app' is not a valid distribution name"),
    ("app-", "the project name 'app-' is not a valid distribution name"),
    (".hidden", "the project name '.hidden' is not a valid distribution name"),
    ("café", "the project name 'café' is not a valid distribution name"),
    ("{{7*7}}", "the project name '{{7*7}}' is not a valid distribution name"),
    ("1app", "the package name '1app' is not a valid Python identifier"),
    ("class", "the package name 'class' is a Python keyword"),
    ("json", "the package name 'json' would shadow the standard library module 'json'"),
    ("Asyncio", "the package name 'asyncio' would shadow the standard library module"),
    ("typer", "the package name 'typer' would shadow 'typer', which asgiforge projects use"),
    ("jinja2", "the package name 'jinja2' would shadow 'jinja2'"),
    ("uvicorn", "the package name 'uvicorn' would shadow 'uvicorn'"),
    ("watchfiles", "the package name 'watchfiles' would shadow 'watchfiles'"),
    ("anyio", "the package name 'anyio' would shadow 'anyio'"),
    ("rich", "the package name 'rich' would shadow 'rich'"),
    ("asgiforge", "the package name 'asgiforge' would shadow 'asgiforge'"),
    ("httpx2", "the package name 'httpx2' would shadow 'httpx2'"),
    ("multipart", "the package name 'multipart' would shadow 'multipart'"),
    ("python-multipart", "the package name 'python_multipart' would shadow"),
    ("tests", "the package name 'tests' clashes with the generated tests directory"),
    ("con", "the package name 'con' is a reserved device name on Windows"),
]


@pytest.mark.parametrize(("name", "message"), REJECTED, ids=[repr(n)[:20] for n, _ in REJECTED])
def test_rejected_names_get_one_line_and_exit_2(cli, tmp_path: Path, name: str, message: str):
    code, out, err = cli("new", "--no-input", "--", name)
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {message}")
    assert err.count("\n") == 1  # one line, no traceback
    assert "\x1b" not in err and "\x00" not in err
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------- options


def test_list_describes_every_template(cli) -> None:
    code, out, _ = cli("new", "--list")
    assert code == 0
    for name in ("minimal", "api", "realtime", "full"):
        assert name in out
    assert "python_version" in out


def test_list_json_schema(cli) -> None:
    code, out, _ = cli("new", "--list", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["schema"] == 1
    names = [t["name"] for t in document["templates"]]
    assert names == ["api", "full", "minimal", "realtime"]
    minimal = document["templates"][names.index("minimal")]
    assert minimal["layout"] == "module"
    keys = {o["key"] for o in minimal["options"]}
    assert keys == {"description", "author", "python_version"}


def test_missing_name_is_a_usage_error(cli) -> None:
    code, _, err = cli("new")
    assert code == 2
    assert err.startswith("error: give the project name")


def test_unknown_template(cli) -> None:
    code, _, err = cli("new", "demo", "-t", "nope")
    assert code == 2
    assert err == (
        "error: unknown template 'nope'; choose one of: api, full, minimal, realtime, "
        "or give a folder, a git repository path or git+URL\n"
    )


def test_unknown_option_and_bad_option_syntax(cli) -> None:
    code, _, err = cli("new", "demo", "--data", "colour=red")
    assert code == 2
    assert err.startswith("error: unknown question 'colour' for template 'minimal'; its questions:")
    code, _, err = cli("new", "demo", "-o", "description")
    assert code == 2
    assert err == "error: --data expects key=value, got 'description'\n"


def test_dry_run_shows_the_files_and_writes_nothing(cli, tmp_path: Path) -> None:
    code, out, _ = cli("new", "demo-app", "-t", "api", "--dry-run")
    assert code == 0
    assert "Would create demo-app" in out
    assert "app.py" in out and "deployment.yaml" in out
    assert "Dry run: nothing was written." in out
    assert list(tmp_path.iterdir()) == []


def test_dry_run_json_reports_overwrites(cli, tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "README.md").write_text("mine")
    code, out, _ = cli("new", "demo", "--dry-run", "--force", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["dry_run"] is True
    assert document["overwritten"] == ["README.md"]
    assert "demo.py" in document["files"]
    assert (tmp_path / "demo" / "README.md").read_text() == "mine"


def test_generation_prints_the_tree_and_next_commands(cli, tmp_path: Path) -> None:
    code, out, _ = cli("new", "my-app", "--template", "realtime")
    assert code == 0
    assert "Created my-app (template realtime, app my_app.app:app)" in out
    assert "chat.js" in out and "test_chat.py" in out
    assert "cd my-app && pip install --find-links wheels -e '.[dev]'" in out
    assert out.rstrip().endswith("asgiforge dev")
    assert (tmp_path / "my-app" / "my_app" / "chat.py").is_file()


def test_dir_is_the_project_directory(cli, tmp_path: Path) -> None:
    (tmp_path / "some where").mkdir()
    code, out, _ = cli("new", "svc", "--dir", "some where/svc-here")
    assert code == 0
    assert (tmp_path / "some where" / "svc-here" / "svc.py").is_file()
    assert "cd 'some where/svc-here' && pip install" in out


def test_dir_with_a_missing_parent_is_refused(cli, tmp_path: Path) -> None:
    code, _, err = cli("new", "svc", "--dir", "no/such/svc")
    assert code == 1
    assert err.startswith("error: the parent directory ")
    assert err.rstrip().endswith("does not exist")
    assert list(tmp_path.iterdir()) == []


def test_non_empty_target_is_refused_and_left_alone(cli, tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "mine.txt").write_text("keep")
    code, _out, err = cli("new", "demo")
    assert code == 1
    assert err.startswith(f"error: '{tmp_path / 'demo'}' is not empty (--force writes into it")
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["mine.txt"]


def test_the_console_script_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "asgiforge"), "new", "cli-demo", "--no-input", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["app"] == "cli_demo:app"
    assert (tmp_path / "cli-demo" / "cli_demo.py").is_file()


# --------------------------------------------------------------- generated projects for real


def _check_ruff(project: Path) -> None:
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        lint = subprocess.run(
            [str(VENV_BIN / "ruff"), *command],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr


def _check_project(project: Path) -> None:
    _check_ruff(project)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        start_new_session=True,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout


@pytest.mark.parametrize("template", scaffold.template_names())
@pytest.mark.parametrize(
    "description", ["Short.", HOSTILE, HOSTILE * 3], ids=["short", "hostile", "long"]
)
def test_every_template_passes_ruff_check_and_ruff_format(
    cli, tmp_path: Path, template: str, description: str
):
    code, _, err = cli(
        "new",
        f"svc-{template}",
        "-t",
        template,
        "--no-input",
        "--data",
        f"description={description}",
    )
    assert code == 0, err
    _check_ruff(tmp_path / f"svc-{template}")


@pytest.mark.slow
@pytest.mark.parametrize("template", scaffold.template_names())
def test_every_template_lints_clean_and_its_tests_pass(cli, tmp_path: Path, template: str):
    code, _, err = cli("new", f"svc-{template}", "-t", template, "--no-input")
    assert code == 0, err
    _check_project(tmp_path / f"svc-{template}")


@pytest.mark.slow
@pytest.mark.parametrize("template", ["api", "full"])
def test_hostile_values_stay_literal_in_a_working_project(cli, tmp_path: Path, template: str):
    code, _, err = cli(
        "new", "odd", "-t", template, "-o", f"description={HOSTILE}", "-o", 'author=A "B" \\C'
    )
    assert code == 0, err
    project = tmp_path / "odd"
    _check_project(project)
    probe = subprocess.run(
        [sys.executable, "-c", "import odd, json; print(json.dumps(odd.DESCRIPTION))"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(probe.stdout) == HOSTILE
    assert "49" not in (project / "odd" / "__init__.py").read_text()


# --- on a real terminal: a pseudo-terminal makes stdin and stdout TTYs, as for a person ---


class Terminal:
    """A child process attached to a pty, read with bounded waits."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, start_new_session=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} never appeared; the terminal showed:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk and self.proc.poll() is not None:
                    raise AssertionError(f"exited before {text!r}:\n{self.seen}")
                self.seen += chunk.decode(errors="replace")

    def answer(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
            os.close(self.master)


def test_prompts_on_a_tty_and_answers_reach_the_project(tmp_path: Path) -> None:
    term = Terminal([sys.executable, "-m", "asgiforge", "new", "shop"], cwd=tmp_path)
    try:
        term.expect("Template")
        term.answer("api")
        term.expect("One-line description")
        term.answer("Sells {{ 7*7 }} things")
        term.expect("Author")
        term.answer("")
        term.expect("Python version")
        term.answer("3.11")
        term.expect("asgiforge dev")
    finally:
        code = term.close()
    assert code == 0, term.seen
    project = tomllib.loads((tmp_path / "shop" / "pyproject.toml").read_text())
    assert project["project"]["description"] == "Sells {{ 7*7 }} things"
    assert (tmp_path / "shop" / "shop" / "app.py").is_file()
    assert "python:3.11" in (tmp_path / "shop" / "Dockerfile").read_text()


def test_no_input_never_prompts_even_on_a_tty(tmp_path: Path) -> None:
    term = Terminal([sys.executable, "-m", "asgiforge", "new", "quiet", "--no-input"], cwd=tmp_path)
    try:
        term.expect("asgiforge dev")
    finally:
        code = term.close()
    assert code == 0, term.seen
    assert "Template" not in term.seen.split("quiet")[0]
    assert "One-line description" not in term.seen
    assert (tmp_path / "quiet" / "pyproject.toml").is_file()


# ------------------------------------------- installing as the README and the Dockerfile say


def _fresh_machine_env() -> dict[str, str]:
    """The environment of a shell on a machine with Python and nothing of ours: no PYTHONPATH,
    no active virtualenv, and the shared venv (which has asgiforge installed) off the PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "PYTHON", "VIRTUAL_ENV", "ASGIFORGE"))
    }
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != VENV_BIN]
    env["PATH"] = os.pathsep.join(path)
    return env


def _sh_blocks(readme: str, heading: str) -> list[str]:
    """The command lines of the ```sh blocks under one `## heading` of a README."""
    section = readme.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines: list[str] = []
    for block in section.split("```sh\n")[1:]:
        lines.extend(line for line in block.split("```", 1)[0].splitlines() if line.strip())
    return lines


def _run_script(script: str, cwd: Path, env: dict[str, str]) -> str:
    result = run_bounded(["bash", "-c", script], cwd=cwd, env=env, timeout=900, merge_stderr=True)
    assert result.returncode == 0, result.stdout[-6000:]
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("template", scaffold.template_names())
def test_the_readme_steps_install_the_project_and_its_tests_pass(
    cli, tmp_path: Path, template: str
) -> None:
    """Run the generated README's "Run it" and "Test it" blocks literally, in a fresh venv with no
    package index holding asgiforge (only `asgiforge dev`, a server that runs until stopped, is
    left out)."""
    code, _, err = cli("new", f"svc-{template}", "-t", template, "--no-input")
    assert code == 0, err
    project = tmp_path / f"svc-{template}"
    readme = (project / "README.md").read_text()
    run_it = [line for line in _sh_blocks(readme, "Run it") if not line.startswith("asgiforge dev")]
    assert run_it[0].startswith("python3 -m venv .venv")
    steps = [*run_it, *_sh_blocks(readme, "Test it")]
    assert {"pytest", "ruff check .", "ruff format --check ."} <= set(steps)
    check = "python -c 'import asgiforge; print(\"FROM\", asgiforge.__file__)'"
    # The asgiforge installed from the bundled wheel makes projects that install too.
    nested = tmp_path / "nested"
    again = f"asgiforge new again --no-input --dir {nested} > /dev/null && ls {nested}/wheels"
    script = "\n".join(["set -eu", *steps, check, again])
    output = _run_script(script, project, _fresh_machine_env())
    assert " passed" in output
    assert f"FROM {project}/.venv/lib/" in output  # the bundled wheel, not our source tree
    assert f"asgiforge-{scaffold.__version__}-py3-none-any.whl" in output.splitlines()[-1]


def _dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    joined = text.replace("\\\n", " ")
    instructions = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


@pytest.mark.slow
@pytest.mark.parametrize("template", scaffold.template_names())
def test_the_dockerfile_run_steps_work_in_a_fresh_venv(cli, tmp_path: Path, template: str) -> None:
    """No Docker engine here: replay WORKDIR, ENV and COPY into a folder and run each RUN step
    in a fresh venv (standing in for the python image), then load the app the CMD serves.
    `useradd` needs root; the base image has it, so that step is the one not replayed."""
    import shlex
    import shutil

    code, _, err = cli("new", f"img-{template}", "-t", template, "--no-input")
    assert code == 0, err
    project = tmp_path / f"img-{template}"
    image = tmp_path / "image"
    venv = tmp_path / "image-python"
    env = _fresh_machine_env()
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    workdir = image
    ran = []
    for keyword, rest in _dockerfile_instructions((project / "Dockerfile").read_text()):
        if keyword == "WORKDIR":
            workdir = image / rest.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
        elif keyword == "COPY":
            *sources, dest = shlex.split(rest)
            for source in sources:
                src = project / source
                if src.is_dir():
                    shutil.copytree(src, workdir / dest, dirs_exist_ok=True)
                else:
                    (workdir / dest).mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, workdir / dest / src.name)
        elif keyword == "RUN" and not rest.startswith("useradd "):
            _run_script(f"set -eu\n{rest}", workdir, env)
            ran.append(rest)
    assert any(step.startswith("pip install") for step in ran)
    routes = _run_script("asgiforge routes --json", workdir, env)
    assert "/healthz" in routes


def test_data_file_and_data_answer_questions(cli, tmp_path: Path) -> None:
    (tmp_path / "answers.toml").write_text('description = "From the file."\nauthor = "File"\n')
    code, out, err = cli(
        "new", "svc", "--data-file", "answers.toml", "--data", "author=Flag", "--json"
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["source"] == "minimal" and document["commit"] == ""
    assert ".asgiforge-answers.toml" in document["files"]
    recorded = tomllib.loads((tmp_path / "svc" / ".asgiforge-answers.toml").read_text())
    assert recorded["answers"]["description"] == "From the file."
    assert recorded["answers"]["author"] == "Flag"  # --data wins over the file
    # Another project's answers file works as a data file as it is.
    code, _, err = cli("new", "svc2", "--data-file", "svc/.asgiforge-answers.toml")
    assert code == 0, err
    again = tomllib.loads((tmp_path / "svc2" / ".asgiforge-answers.toml").read_text())
    assert again["answers"] == recorded["answers"]


def test_a_bad_answer_names_the_question(cli, tmp_path: Path) -> None:
    code, _, err = cli("new", "svc", "--data", "python_version=2.7")
    assert code == 2
    assert err == ("error: question 'python_version' must be one of 3.11, 3.12, 3.13; got '2.7'\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("reply", "ran"), [("y", True), ("n", False)])
def test_tasks_are_shown_and_confirmed_on_a_tty(tmp_path: Path, reply: str, ran: bool) -> None:
    template = tmp_path / "tpl"
    template.mkdir()
    (template / "template.toml").write_text('tasks = ["touch from-task"]\n')
    (template / "a.txt").write_text("a\n")
    work = tmp_path / "work"
    work.mkdir()
    term = Terminal(
        [sys.executable, "-m", "asgiforge", "new", "svc", "--template", str(template)], cwd=work
    )
    try:
        term.expect("touch from-task")
        term.expect("Run these commands in the new project?")
        term.answer(reply)
    finally:
        code = term.close()
    assert (code == 0) is ran, term.seen
    assert (work / "svc" / "from-task").is_file() is ran
    assert (work / "svc").exists() is ran  # refused: nothing written
