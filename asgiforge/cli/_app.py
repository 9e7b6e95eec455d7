"""The Typer application: the root options and every command module's `register(app)`.

Kept out of `asgiforge/cli/__init__.py` so that `main()` can answer `--version` and a cached
`--help` without importing Typer (about 0.1 s of start-up on its own).
"""

from __future__ import annotations

from typing import Annotated

import typer

from asgiforge import __version__

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

    for name in ("new", "update", "routes", "dev", "serve"):
        try:
            module = importlib.import_module(f"asgiforge.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"asgiforge.cli.{name}":
                raise
            continue
        module.register(app)


_register()
