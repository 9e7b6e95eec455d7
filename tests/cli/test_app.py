"""The assembled CLI (`asgiforge/cli/__init__.py`, `cli/_app.py`), always through a real process:
version, help, lazily loaded commands, shell completion and one-line errors."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer

from asgiforge import __version__
from asgiforge.cli._app import COMMANDS, LazyCommands, app
from asgiforge.importer import USER_FRAMES
from tests.harness import run_bounded

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "asgiforge"  # the console script, as a shell runs it
COMMAND_MODULES = [f"asgiforge.cli.{name}" for name, _ in COMMANDS]


def environment(**extra: str) -> dict[str, str]:
    """This checkout first on the path, no colour, a wide terminal: output is plain text."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "400", **extra}
    for name in ("WEB_CONCURRENCY", "_ASGIFORGE_COMPLETE"):
        if name not in extra:
            env.pop(name, None)
    return env


def run_process(
    argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """One real process, bounded in time, its process group always killed."""
    return run_bounded(argv, cwd=cwd, env=env or environment())


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_process([sys.executable, "-m", "asgiforge", *args], cwd, env)


def imported_modules(*args: str) -> set[str]:
    """The modules a real `asgiforge ARGS` run has imported when it exits (sys.modules)."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('MODULES', *sorted(sys.modules), file=sys.stderr))\n"
        f"sys.argv = ['asgiforge', *{list(args)!r}]\n"
        "from asgiforge.cli import main\n"
        "main()\n"
    )
    result = run_process([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("MODULES ")]
    assert len(lines) == 1, result.stderr[-2000:]
    return set(lines[0].split()[1:])


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"asgiforge {__version__}"


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("new", "routes", "dev", "serve"):
        assert command in result.stdout


# --- start-up: each command loads what it uses, nothing is cached -----------------------------


def test_help_imports_no_command_and_nothing_they_need() -> None:
    modules = imported_modules("--help")
    assert "asgiforge.cli._app" in modules  # the report is read right
    heavy = {"uvicorn", "asgiforge.server", "asgiforge.importer", "asgiforge.runtime"}
    assert not modules & ({*COMMAND_MODULES} | heavy)


def test_a_commands_help_imports_that_command_only() -> None:
    modules = imported_modules("routes", "--help")
    assert "asgiforge.cli.routes" in modules
    assert not modules & {*COMMAND_MODULES} - {"asgiforge.cli.routes"}
    # Typer converts a flag left at None through pydantic (~0.15 s): the root's are False.
    assert not {name for name in modules if name.split(".")[0] == "pydantic"}


def test_the_listed_summaries_are_each_commands_own_help() -> None:
    listing = " ".join(run("--help").stdout.split())
    for name, summary in COMMANDS:
        assert summary is not None, f"{name}: no summary, so --help imports it"
        assert f"{name} {summary}" in listing
        own_help = run(name, "--help")
        assert own_help.returncode == 0
        assert summary in " ".join(own_help.stdout.split()), name
    # Exactly the first paragraph of what each command declares.
    group = typer.main.get_command(app)
    assert isinstance(group, LazyCommands)
    ctx = typer.Context(group)
    for name, summary in COMMANDS:
        command = group.get_command(ctx, name)
        assert command is not None and command.help is not None
        assert inspect.cleandoc(command.help).split("\n\n")[0] == summary


def test_nothing_is_written_to_the_home_or_cache_directories(tmp_path: Path) -> None:
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    cache.mkdir()
    env = environment(HOME=str(home), XDG_CACHE_HOME=str(cache))
    first, second = run("--help", env=env), run("--help", env=env)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    bare = run(env=env)  # no arguments: the help, exit 2
    assert bare.returncode == 2 and "serve" in bare.stdout
    assert list(home.iterdir()) == [] and list(cache.iterdir()) == []


# --- shell completion ---------------------------------------------------------------------------


def in_bash(script: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `script` in bash, the console script on PATH: bash is what the CLI detects."""
    env = environment(HOME=str(home), PATH=f"{SCRIPT.parent}{os.pathsep}{os.environ['PATH']}")
    # `; exit $?` keeps bash from exec'ing the last command, so bash stays the parent.
    return run_process(["bash", "-c", f"{script}; exit $?"], cwd, env)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    if not SCRIPT.exists():  # pragma: no cover - the venv always has it
        pytest.skip("the asgiforge console script is not installed")
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_show_completion_prints_the_script_for_the_shell(home: Path, tmp_path: Path) -> None:
    result = in_bash("asgiforge --show-completion", home, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "_ASGIFORGE_COMPLETE=complete_bash" in result.stdout
    assert "complete -o default -F _asgiforge_completion asgiforge" in result.stdout
    assert list(home.iterdir()) == []  # shown, not installed


def test_installed_completion_completes_commands_and_options(home: Path, tmp_path: Path) -> None:
    installed = in_bash("asgiforge --install-completion", home, tmp_path)
    assert installed.returncode == 0, installed.stderr
    assert "bash completion installed" in installed.stdout
    assert (home / ".bash_completions" / "asgiforge.sh").is_file()
    assert ".bash_completions/asgiforge.sh" in (home / ".bashrc").read_text()

    def complete(*words: str) -> list[str]:
        # What bash does on TAB: set COMP_WORDS/COMP_CWORD, call the registered function.
        quoted = " ".join(f"'{word}'" for word in words)
        result = in_bash(
            "source ~/.bashrc; "
            f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
            "_asgiforge_completion asgiforge; printf '%s\\n' \"${COMPREPLY[@]}\"",
            home,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert complete("asgiforge", "ro") == ["routes"]
    assert complete("asgiforge", "") == [name for name, _ in COMMANDS]
    assert complete("asgiforge", "routes", "--js") == ["--json"]
    assert "--workers" in complete("asgiforge", "serve", "--wor")


# --- errors: one line each, pointing at what the user wrote --------------------------------------


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


def test_a_bad_flag_value_blames_the_flag_and_a_bad_variable_the_variable() -> None:
    flag = run("serve", "--workers", "abc", env=environment(WEB_CONCURRENCY="4"))
    assert flag.returncode == 2
    assert flag.stderr.startswith("error: Invalid value for '--workers' / '-w': ")
    assert "WEB_CONCURRENCY" not in flag.stderr
    variable = run("serve", env=environment(WEB_CONCURRENCY="abc"))
    assert variable.returncode == 2
    # The environment layer is parsed by asgiforge.server.config, which names the variable.
    assert variable.stderr == "error: WEB_CONCURRENCY='abc' (environment): not an integer\n"


def test_domain_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = run("routes", "no_such_module_xyz:app", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no_such_module_xyz" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["routes", "dev", "serve"])
def test_a_target_that_does_not_exist_is_one_line_before_anything_starts(
    tmp_path: Path, command: str
) -> None:
    # `dev` would otherwise start, serve a 503 page and wait for a save that cannot fix a typo.
    extra = ["--port", "0"] if command != "routes" else []
    result = run(command, "nosuchmodule:app", *extra, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: no module 'nosuchmodule' (looked in {tmp_path.resolve()} and sys.path)\n"
    )


def test_an_app_raising_at_import_points_at_the_users_code(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(
        textwrap.dedent(
            """\
            import os


            def database_url():
                return os.environ["ASGIFORGE_TEST_DATABASE_URL"]


            def load():
                return {"db": database_url()}
            """
        )
    )
    (tmp_path / "main.py").write_text("import settings\n\nCONFIG = settings.load()\napp = None\n")
    result = run("routes", "main:app", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        "error: the import of 'main' failed: KeyError: 'ASGIFORGE_TEST_DATABASE_URL' "
        "(settings.py, line 5)",
        "  at main.py:3 in <module>: CONFIG = settings.load()",
        '  at settings.py:9 in load: return {"db": database_url()}',
        '  at settings.py:5 in database_url: return os.environ["ASGIFORGE_TEST_DATABASE_URL"]',
    ]
    assert len(result.stderr.splitlines()) <= 1 + USER_FRAMES


def test_a_syntax_error_shows_the_line(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("app = None\nroutes = [\n")
    result = run("routes", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        "error: the import of 'main' failed: SyntaxError: '[' was never closed (main.py, line 2)",
        "  at main.py:2: routes = [",
    ]


def test_factory_errors_name_what_was_found(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("number = 42\n\ndef make():\n    return 3\n")
    not_callable = run("routes", "m:number", "--factory", cwd=tmp_path)
    assert (not_callable.returncode, not_callable.stderr) == (
        2,
        "error: --factory: 'm:number' is an int (42), not a function to call\n",
    )
    returned = run("routes", "m:make", "--factory", cwd=tmp_path)
    assert (returned.returncode, returned.stderr) == (
        2,
        "error: the factory 'm:make()' returned an int (3), not an ASGI application\n",
    )
    plain = run("routes", "m:number", cwd=tmp_path)
    assert plain.stderr == "error: 'm:number' is an int (42), not an ASGI application\n"
