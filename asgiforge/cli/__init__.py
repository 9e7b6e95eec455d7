"""The `asgiforge` command line.

Every command is a thin shell (parse → one core call → render) living in its own module of this
package; `asgiforge.cli._app` assembles them into the Typer app and this module's `main()` is the
one place where domain errors become exit codes.

Start-up is kept short without caching anything: `--version` is answered without importing
Typer, and each command's module (with what it imports) is loaded only when that command is used
(see `asgiforge.cli._app`), so `asgiforge --help` costs Typer and Rich and little else.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

from asgiforge import __version__

if TYPE_CHECKING:
    from asgiforge.errors import AsgiforgeError

__all__ = ["PROG_NAME", "app", "main"]

# The name in usage lines and the one shell completion is keyed on (`_ASGIFORGE_COMPLETE`),
# the same whether the console script or `python -m asgiforge` runs.
PROG_NAME = "asgiforge"


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
    if sys.argv[1:] == ["--version"]:
        # Exactly what the eager --version option prints, without importing Typer.
        print(f"asgiforge {__version__}")
        sys.exit(0)
    import typer

    from asgiforge.cli import _app

    try:
        result = _app.app(standalone_mode=False, prog_name=PROG_NAME)
    except typer.Abort:
        _fail(_error("aborted"))
    except typer.BadParameter as exc:
        _name_the_source(exc)
        _usage_error(exc)
    except typer.TyperException as exc:
        _usage_error(exc)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        # Imported here, not above: `--help` and every command that succeeds never need it.
        from asgiforge.errors import AsgiforgeError

        if not isinstance(exc, AsgiforgeError):
            raise  # a bug is not the user's to fix: it keeps its traceback
        _fail(exc)
    sys.exit(result if isinstance(result, int) else 0)


def _name_the_source(exc: Any) -> None:
    """Blame the spelling the user actually used for a bad value: the flag or the variable.

    Typer's hint names an option's environment variable as well (``'--workers' / '-w' (env var:
    'WEB_CONCURRENCY')``) even when the value came from the command line, sending the user to
    look for a variable they never set.
    """
    param, ctx = getattr(exc, "param", None), getattr(exc, "ctx", None)
    if param is None or ctx is None or exc.param_hint is not None or not param.opts:
        return
    flags = " / ".join(f"'{opt}'" for opt in param.opts)
    source = ctx.get_parameter_source(param.name) if param.name else None
    envvar = param.envvar
    if getattr(source, "name", None) == "ENVIRONMENT" and envvar:
        import os

        names = [envvar] if isinstance(envvar, str) else list(envvar)
        used = next((name for name in names if os.environ.get(name)), names[0])
        exc.param_hint = f"environment variable {used} (read for {flags})"
    else:
        exc.param_hint = flags


def _usage_error(exc: Any) -> NoReturn:
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    code = getattr(exc, "exit_code", 2)
    one_line = " ".join(str(message).split())
    if not one_line:  # e.g. no arguments: the help text has already been printed
        sys.exit(code)
    _fail(_error(one_line), code)


def _error(message: str) -> AsgiforgeError:
    from asgiforge.errors import AsgiforgeError

    return AsgiforgeError(message)


def _fail(exc: AsgiforgeError, code: int | None = None) -> NoReturn:
    from asgiforge.cli.output import print_error, print_frames

    print_error(str(exc))
    frames = getattr(exc, "frames", ())
    if frames:
        print_frames(frames)
    sys.exit(exc.exit_code if code is None else code)
