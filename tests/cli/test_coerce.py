"""`asgiforge.cli._coerce`: plain values skip pydantic, and every value converts (or fails)
exactly as Typer's own conversion does. Every case runs in a real process."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

from tests.harness import run_bounded

ROOT = Path(__file__).resolve().parents[2]

# A Typer app with one option of each kind asgiforge uses; FAST=1 applies fast_coercion. It
# prints what the command received, or the one-line error, and whether pydantic was imported.
PROBE = textwrap.dedent(
    """\
    import json, os, sys
    from pathlib import Path
    from typing import Annotated, Literal, Optional
    import typer

    app = typer.Typer()

    @app.command()
    def probe(
        count: Annotated[int, typer.Option(min=1, max=64)] = 1,
        port: int = 8000,
        name: Optional[str] = None,
        folder: Path = Path("."),
        must: Annotated[Optional[Path], typer.Option(exists=True)] = None,
        level: Literal["info", "debug"] = "info",
        flag: bool = False,
        timeout: Annotated[float, typer.Option(min=0.5)] = 30.0,
        bind: Optional[list[str]] = None,
        fd: Optional[list[int]] = None,
    ) -> None:
        print(repr((count, port, name, folder, must, level, flag, timeout, bind, fd)))

    for args in json.loads(sys.argv[1]):
        command = typer.main.get_command(app)
        if os.environ.get("FAST") == "1":
            from asgiforge.cli._coerce import fast_coercion
            fast_coercion(command)
        try:
            command.main(args, standalone_mode=False)
        except Exception as exc:
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            print(type(exc).__name__, " ".join(message.split()))
    print("pydantic imported:", "pydantic" in sys.modules)
    """
)


def probe(tmp_path: Path, runs: list[list[str]], fast: bool) -> tuple[list[str], bool]:
    """What the probe answers to each argv in `runs`, one line each, and whether pydantic was
    imported by the end."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "FAST": "1" if fast else "0"}
    result = run_bounded([sys.executable, str(script), json.dumps(runs)], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    *answers, imported = result.stdout.strip().splitlines()
    assert len(answers) == len(runs), result.stdout
    return answers, imported.endswith("True")


CASES = [
    [],
    ["--count", "7", "--port", "0", "--name", "x", "--folder", "sub", "--flag"],
    ["--count", "0"],  # below min
    ["--count", "65"],  # above max
    ["--count", "abc"],
    ["--count", " 7"],
    ["--count", "-3"],
    ["--count", "1_0"],
    ["--port", "０"],  # a non-ASCII digit
    ["--name", ""],
    ["--folder", ""],
    ["--must", "probe.py"],
    ["--must", "missing.txt"],
    ["--level", "debug"],
    ["--level", "DEBUG"],
    ["--level", "warn"],
    ["--timeout", "5"],
    ["--timeout", "2.25"],
    ["--timeout", "0.1"],  # below min
    ["--timeout", "1e3"],
    ["--timeout", "inf"],
    ["--timeout", "x"],
    ["--bind", "a", "--bind", "b", "--fd", "3", "--fd", "4"],
    ["--fd", "3", "--fd", "x"],
    ["--fd", "-1"],
]


def test_fast_conversion_answers_exactly_as_typer(tmp_path: Path) -> None:
    typer_answers, _ = probe(tmp_path, CASES, fast=False)
    fast_answers, _ = probe(tmp_path, CASES, fast=True)
    assert fast_answers == typer_answers
    assert sum(answer.startswith("BadParameter") for answer in typer_answers) >= 8


def test_plain_values_do_not_import_pydantic(tmp_path: Path) -> None:
    args = ["--count", "7", "--name", "x", "--folder", "sub", "--must", "probe.py", "--flag"]
    args += ["--timeout", "2.5", "--bind", "a", "--fd", "3"]
    [answer], imported = probe(tmp_path, [[*args, "--level", "debug"]], fast=True)
    assert answer.startswith("(7, 8000, 'x', PosixPath('sub'), PosixPath('probe.py'), 'debug'")
    assert not imported
    _, imported_by_typer = probe(tmp_path, [args], fast=False)
    assert imported_by_typer  # the probe is right: without the fast path, pydantic is imported


def test_routes_runs_without_pydantic(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        "from asgiforge.runtime.applications import App\n"
        "from asgiforge.runtime.routing import Route\n"
        "async def home(request): ...\n"
        "app = App(routes=[Route('/', home)])\n"
    )
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('PYDANTIC', 'pydantic' in sys.modules, file=sys.stderr))\n"
        "sys.argv = ['asgiforge', 'routes', '--path', '/', '--app-dir', '.']\n"
        "from asgiforge.cli import main\n"
        "main()\n"
    )
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}
    result = run_bounded([sys.executable, "-c", code], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "main.home" in result.stdout
    assert "PYDANTIC False" in result.stderr
