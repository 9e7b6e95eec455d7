"""`asgiforge dev [APP]`: run the app with reload, a banner and one line per reload.

A thin shell: the parameters are generated from `asgiforge.server.option_table` and resolved in
layers (command line, environment, ``[tool.asgiforge.dev]``, default); build `DevOptions`, hand
them to `asgiforge.server.run` (which picks the reload supervisor, or a single process with
--no-reload) with a rich reporter. The process model
and its workers call the reporter; the worker side (a rich traceback when the code does not
import) runs in the forked process, same console.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from asgiforge.cli._table import Mode, check_config, print_config, table_command

if TYPE_CHECKING:
    from asgiforge.server.config import Config
    from asgiforge.server.dev.options import ReloadEvent, StartInfo


class RichReporter:
    """Prints the banner, reload lines and tracebacks with rich, on stderr like uvicorn's logs."""

    # The env file the app gets and how many variables it sets (the banner's `env` line).
    env: str | None = None

    def started(self, info: StartInfo) -> None:
        from rich.text import Text

        from asgiforge.cli.output import err

        routes = "-" if info.routes is None else str(info.routes)
        watched = ", ".join(str(p) for p in info.watched) or "nothing (--no-reload)"
        banner = Text("asgiforge dev", style="bold cyan")
        banner += Text(f"  {info.app}\n", style="bold")
        banner += Text("  serving   ") + Text(info.url, style="bold green underline") + "\n"
        banner += Text(f"  routes    {routes}\n")
        banner += Text(f"  watching  {watched}\n")
        if self.env:
            banner += Text(f"  env       {self.env}\n")
        if not info.ok:
            banner += Text(f"  the app failed to load: {info.error}\n", style="bold red")
            banner += Text("  requests get a 503 page until the next save fixes it\n", "red")
        err().print(banner)
        # The banner is the first thing on the stream, redirected or not: out before serving.
        err().file.flush()

    def reloaded(self, event: ReloadEvent) -> None:
        from rich.text import Text

        from asgiforge.cli.output import err

        changed = ", ".join(event.changes[:3]) + (
            f" (+{len(event.changes) - 3} more)" if len(event.changes) > 3 else ""
        )
        took = f"{event.seconds:.3f} s" if event.seconds is not None else "?"
        if event.ok:
            line = Text("reloaded ", style="bold green") + Text(f"in {took}  ")
        else:
            line = Text("load failed ", style="bold red") + Text(f"(503 page up in {took})  ")
        line += Text(changed, style="dim")
        err().print(line)

    def load_failed(self, error: BaseException) -> None:
        import importlib

        from rich.traceback import Traceback

        from asgiforge import importer
        from asgiforge.cli.output import err

        cause = error.__cause__ or error
        err().print(
            Traceback.from_exception(
                type(cause), cause, cause.__traceback__, suppress=[importlib, importer]
            )
        )
        err().print(f"[bold red]{type(error).__name__}:[/] {error}", markup=True)

    def message(self, text: str) -> None:
        from rich.text import Text

        from asgiforge.cli.output import err

        err().print(Text(text, style="yellow"))


HELP = """Run the app for development: reload on save, 503 error page while the code is broken.

The app's debug mode is on unless --no-debug; .env in --app-dir is loaded when it exists
(--env-file names another, --no-env-file none).
"""


def dev_command(app: str | None, config: Config, mode: Mode) -> None:
    """Configuration → `DevOptions` → `server.run` with the rich reporter."""
    if mode.print_config:
        print_config(config, mode.json)
        return
    from asgiforge import server
    from asgiforge.server.config import dev_options, env_file_summary
    from asgiforge.server.tls import server_context

    options = dev_options(config, app)
    if mode.check_config:
        check_config(options.target, options.http)
        return
    server_context(options.http)  # a TLS mistake is one line now, not a traceback per worker
    reporter = RichReporter()
    if options.target.env_file is not None:
        reporter.env = env_file_summary(options.target.env_file)
    status = server.run(options, reporter=reporter)
    if status:
        raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    """Attach `dev` to the root command."""
    app.command("dev", help=HELP)(table_command("dev", dev_command, HELP))
