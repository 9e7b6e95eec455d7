"""The `asgiforge` command line.

Every command is a thin shell (parse → one core call → render) living in its own module of this
package; this module assembles them and is the one place where domain errors become exit codes.
Heavy imports (uvicorn, jinja2, the runtime) happen inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from asgiforge import __version__
from asgiforge.errors import AsgiforgeError

app = typer.Typer(
    name="asgiforge",
    help="Scaffold, develop, inspect and serve ASGI services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        print(f"asgiforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_version_callback,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Scaffold, develop, inspect and serve ASGI services."""


def _register() -> None:
    """Attach each command module that exists; each module exposes `register(app)`."""
    import importlib

    for name in ("new", "routes", "dev", "serve"):
        try:
            module = importlib.import_module(f"asgiforge.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"asgiforge.cli.{name}":
                raise
            continue
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point: run the app and map every error to one line and an exit code.

    Typer runs in non-standalone mode so that usage errors (a bad option value, an unknown
    command) reach this function too and are printed as one line, like domain errors, instead of
    a multi-line box.
    """
    try:
        result = app(standalone_mode=False)
    except AsgiforgeError as exc:
        _fail(str(exc), exc.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except typer.TyperException as exc:
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        code = getattr(exc, "exit_code", 2)
        one_line = " ".join(str(message).split())
        if not one_line:  # e.g. no arguments: the help text has already been printed
            sys.exit(code)
        _fail(one_line, code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> None:
    from asgiforge.cli.output import print_error

    print_error(message)
    sys.exit(code)
