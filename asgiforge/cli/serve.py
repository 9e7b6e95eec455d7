"""`asgiforge serve`: the production multi-worker server (a thin shell over the master).

The parameters are generated from `asgiforge.server.option_table` (`asgiforge.cli._table`): each
option comes from the command line, the environment, ``[tool.asgiforge.serve]`` in pyproject.toml
or its default (`asgiforge.server.config`). Then: build `ServeOptions` (which check themselves)
and resolve the app → `asgiforge.server.run` with ``fresh_interpreter``: this process becomes the
master alone (same PID; see `asgiforge.server.serve.master_exec`), which configures logging and
reports errors as this CLI would, so every mistake the CLI can see is reported before anything
starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from asgiforge.cli._table import Mode, check_config, print_config, table_command

if TYPE_CHECKING:
    from asgiforge.server.config import Config

HELP = (
    "Run APP in production: a master owns the sockets and supervises --workers uvicorn "
    "workers (HUP: rolling restart, TTIN/TTOU: scale, TERM/INT: graceful stop)."
)


def register(app: typer.Typer) -> None:
    """Attach the `serve` command to the root CLI."""
    app.command("serve", help=HELP)(table_command("serve", serve, HELP))


def serve(app: str | None, config: Config, mode: Mode) -> None:
    """Configuration → `ServeOptions` → `server.run` → exit with its status."""
    if mode.print_config:
        print_config(config, mode.json)
        return
    from asgiforge import server
    from asgiforge.server.config import serve_options

    options, retarget = serve_options(config, app)
    if mode.check_config:
        check_config(options.target, options.http)
        return
    status = server.run(options, retarget=retarget, fresh_interpreter=True)
    if status:
        raise typer.Exit(status)
