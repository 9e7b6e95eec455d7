"""The `asgiforge` command line.

Every command is a thin shell (parse → one core call → render) living in its own module of this
package; `asgiforge.cli._app` assembles them into the Typer app and this module's `main()` is the
one place where domain errors become exit codes.

Start-up is kept short: heavy imports (uvicorn, jinja2, the runtime) happen inside the commands,
`--version` is answered without importing Typer, and the top-level help (`--help`, or no
arguments) is replayed from a cache of Typer's own output (see `asgiforge.cli._helpcache`).
"""

from __future__ import annotations

import sys
from typing import Any

from asgiforge import __version__
from asgiforge.errors import AsgiforgeError

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    """`asgiforge.cli.app`, the Typer app, imported on first use only."""
    if name == "app":
        from asgiforge.cli._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point: run the app and map every error to one line and an exit code.

    Typer runs in non-standalone mode so that usage errors (a bad option value, an unknown
    command) reach this function too and are printed as one line, like domain errors, instead of
    a multi-line box.
    """
    args = sys.argv[1:]
    if args == ["--version"]:
        # Exactly what the eager --version option prints, without importing Typer.
        print(f"asgiforge {__version__}")
        sys.exit(0)
    if args in ([], ["--help"]):
        from asgiforge.cli import _helpcache

        _helpcache.replay_or_record(_run)
    _run()


def _run() -> None:
    import typer

    from asgiforge.cli._app import app

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
