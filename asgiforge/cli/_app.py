"""The Typer application: the root options, and each command imported only when it is used.

`asgiforge --help` lists the commands but runs none of them, so it must not pay for what they
import (the server's option tables, sockets, uvicorn, the runtime). The root group therefore knows
each command by its module name and a one-line summary (pip's command table works the same way);
a command's module is imported, and its `register(app)` called, only when that command is looked
up to run it, to print its own help, or to complete its options. Typer and Rich themselves are
the floor. Nothing is cached between runs.

The summaries are the first paragraph of each command's own help text; tests/cli/test_app.py
checks that they still are. A command listed here without a summary still works: the listing then
imports its module to ask it, which costs start-up time but is never wrong.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from asgiforge import __version__

# (module in asgiforge.cli and command name, summary for the command list). Order is the order
# the help lists them in.
COMMANDS: tuple[tuple[str, str | None], ...] = (
    ("new", "Create a project from a template: a built-in one, a folder or a git repository."),
    (
        "update",
        "Bring a generated project forward to a newer version of its template, keeping your edits.",
    ),
    ("routes", "List the routing table: methods, full path, name, endpoint, file:line and kind."),
    (
        "dev",
        "Run the app for development: reload on save, 503 error page while the code is broken.",
    ),
    (
        "serve",
        "Run APP in production: a master owns the sockets and supervises --workers uvicorn "
        "workers (HUP: rolling restart, TTIN/TTOU: scale, TERM/INT: graceful stop).",
    ),
)

# Shared by the root app and the per-command apps, so every command renders its help alike.
_TYPER_SETTINGS: dict[str, Any] = {
    "pretty_exceptions_enable": False,
    "rich_markup_mode": "rich",
}


class LazyCommands(TyperGroup):
    """The root group: commands are known by name and imported on first real use.

    While the group only *lists* its commands (its own help, completing a command name) a
    lookup answers with a placeholder carrying the summary; every other lookup (running the
    command, its `--help`, completing its options) imports the real one.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        names = [name for name, _ in COMMANDS]
        return names + [name for name in self.commands if name not in names]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = self.commands.get(cmd_name)
        if command is not None:
            return command
        summaries = dict(COMMANDS)
        if cmd_name not in summaries:
            return None
        summary = summaries[cmd_name]
        if self._listing and summary is not None:
            return TyperCommand(cmd_name, help=summary)
        self._load(cmd_name)
        return self.commands.get(cmd_name)

    def _load(self, module_name: str) -> None:
        """Import `asgiforge.cli.<module_name>` and add what its `register(app)` attaches."""
        from asgiforge.cli._coerce import fast_coercion
        from asgiforge.cli.output import reflow_help

        module = importlib.import_module(f"asgiforge.cli.{module_name}")
        commands = typer.Typer(add_completion=False, **_TYPER_SETTINGS)
        module.register(commands)
        for name, command in typer.main.get_group(commands).commands.items():
            fast_coercion(command)
            command.help = reflow_help(command.help)
            self.commands.setdefault(name, command)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        # Completing a command *name* needs the names and summaries only.
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False


app = typer.Typer(
    name="asgiforge",
    cls=LazyCommands,
    help="Scaffold, develop, inspect and serve ASGI services.",
    no_args_is_help=True,
    # The root's flags that were not given default to None, which Typer converts (importing
    # pydantic, ~0.15 s) before any command runs, even `routes --help`; False is what they mean.
    context_settings={
        "default_map": {"help": False, "install_completion": False, "show_completion": False}
    },
    **_TYPER_SETTINGS,
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
