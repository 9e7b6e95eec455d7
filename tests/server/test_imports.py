"""Nothing under `asgiforge.server` loads the CLI, Typer or Rich, even when it talks to a person.

`serve`'s workers are forked from a master that must not carry them (their pages would be counted
in every worker), and the server is usable without the CLI: its logging and its one-line error
live in `asgiforge.server._logging`.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from tests.harness import run_bounded

SCRIPT = textwrap.dedent(
    """
    import importlib, io, json, logging, pkgutil, sys
    import asgiforge.server as server

    names = ["asgiforge.server"]
    for info in pkgutil.walk_packages(server.__path__, "asgiforge.server."):
        importlib.import_module(info.name)
        names.append(info.name)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    # What the exec'd master does on a terminal: set up logging, log, fail with one line.
    from asgiforge.server import _logging
    from asgiforge.server.options import HTTPOptions
    from asgiforge.server.serve import master_exec

    sys.stderr = Terminal()
    _logging.configure(HTTPOptions())
    logging.getLogger("asgiforge.serve").warning("worker [1] timed out")
    try:
        master_exec._fail("cannot bind 127.0.0.1:1\\nsecond line", 2)
    except SystemExit as exc:
        code = exc.code
    said, sys.stderr = sys.stderr.getvalue(), sys.__stderr__

    heavy = ("asgiforge.cli", "typer", "rich")
    prefixes = tuple(h + "." for h in heavy)
    loaded = sorted(n for n in sys.modules if n in heavy or n.startswith(prefixes))
    print(json.dumps({"imported": names, "loaded": loaded, "said": said, "code": code}))
    """
)


@pytest.mark.slow
def test_every_server_module_imports_without_the_cli_typer_or_rich() -> None:
    result = run_bounded([sys.executable, "-c", SCRIPT], timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for module in (
        "asgiforge.server.serve.master_exec",
        "asgiforge.server.serve.master",
        "asgiforge.server.dev.reload",
        "asgiforge.server._logging",
    ):
        assert module in report["imported"]
    assert report["loaded"] == []
    assert "worker [1] timed out" in report["said"]
    assert "error: " in report["said"]
    assert "cannot bind 127.0.0.1:1" in report["said"]
    assert "second line" not in report["said"]
    assert report["code"] == 2
