"""errors: each domain error has its documented exit code and reaches the user as one line."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any, NoReturn

import pytest

import asgiforge.cli._app
from asgiforge.cli import main
from asgiforge.errors import (
    AppImportError,
    AppNotFoundError,
    AsgiforgeError,
    ConfigError,
    RouteCheckError,
    ScaffoldError,
    ServeError,
    UntrustedTemplateError,
    UpdateConflictError,
    UsageError,
)
from tests.test_main import run_module

# The exit codes the CLI documents for each error (see the docstrings in asgiforge/errors.py).
EXIT_CODES: dict[type[AsgiforgeError], int] = {
    AsgiforgeError: 1,
    UsageError: 2,
    ConfigError: 2,
    AppNotFoundError: 2,
    AppImportError: 3,
    ScaffoldError: 1,
    ServeError: 3,
    RouteCheckError: 1,
    UpdateConflictError: 1,
    UntrustedTemplateError: 1,
}


def all_subclasses(cls: type[AsgiforgeError]) -> set[type[AsgiforgeError]]:
    found: set[type[AsgiforgeError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


def test_every_error_has_a_documented_exit_code() -> None:
    # A new error class must be added to the table above (and to the docs) to pass.
    assert all_subclasses(AsgiforgeError) | {AsgiforgeError} == set(EXIT_CODES)
    for cls, code in EXIT_CODES.items():
        assert cls.exit_code == code, cls.__name__
        assert cls("x").exit_code == code, cls.__name__


def test_errors_are_exceptions_the_caller_can_catch_as_one_family() -> None:
    for cls in EXIT_CODES:
        with pytest.raises(AsgiforgeError, match=r"^the message$"):
            raise cls("the message")


@pytest.mark.parametrize("cls", list(EXIT_CODES), ids=lambda cls: cls.__name__)
def test_main_turns_each_error_into_one_line_and_its_exit_code(
    cls: type[AsgiforgeError],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing_app(*args: Any, **kwargs: Any) -> NoReturn:
        raise cls("it went wrong\n  detail that stays out of the one line\nmore")

    monkeypatch.setattr(asgiforge.cli._app, "app", failing_app)
    monkeypatch.setattr(sys, "argv", ["asgiforge", "routes"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == EXIT_CODES[cls]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: it went wrong\n"


def test_main_does_not_swallow_unexpected_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    # A bug is not the user's to fix: it keeps its traceback instead of becoming one line.
    def failing_app(*args: Any, **kwargs: Any) -> NoReturn:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(asgiforge.cli._app, "app", failing_app)
    monkeypatch.setattr(sys, "argv", ["asgiforge", "routes"])
    with pytest.raises(ZeroDivisionError):
        main()


SHADOWED_APP = textwrap.dedent(
    """
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.responses import PlainTextResponse
    from asgiforge.runtime.routing import Route

    async def page(request):
        return PlainTextResponse("page")

    app = App(
        routes=[Route("/users/{name}", page, name="user"), Route("/users/me", page, name="me")]
    )
    """
)


@pytest.mark.parametrize(
    ("args", "files", "error", "message"),
    [
        (("new",), {}, UsageError, "error: give the project name"),
        (("routes", "nosuch:app"), {}, AppNotFoundError, "error: no module 'nosuch'"),
        (
            ("routes", "broken:app"),
            {"broken.py": "import not_installed_anywhere\n"},
            AppImportError,
            "error: the import of 'broken' failed",
        ),
        (
            ("routes", "shadowed:app", "--check"),
            {"shadowed.py": SHADOWED_APP},
            RouteCheckError,
            "error: 1 routing problem(s) found",
        ),
        (
            (
                "serve",
                "nosuch:app",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--ssl-certfile",
                "missing.pem",
            ),
            {},
            ServeError,
            "error: cannot read --ssl-certfile missing.pem",
        ),
    ],
    ids=["UsageError", "AppNotFoundError", "AppImportError", "RouteCheckError", "ServeError"],
)
def test_real_cli_exit_code_and_one_line(
    tmp_path: Path,
    args: tuple[str, ...],
    files: dict[str, str],
    error: type[AsgiforgeError],
    message: str,
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = run_module(tmp_path, *args)
    assert result.returncode == EXIT_CODES[error], result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith(message), result.stderr
