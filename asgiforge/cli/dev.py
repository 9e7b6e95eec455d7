"""`asgiforge dev [APP]`: run the app with reload, a banner and one line per reload.

A thin shell: parse, build `DevOptions`, hand them to `asgiforge.server.run` (which picks the
reload supervisor, or a single process with --no-reload) with a rich reporter. The process model
and its workers call the reporter; the worker side (a rich traceback when the code does not
import) runs in the forked process, same console.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from asgiforge.cli._params import (
    APP_DIR,
    FACTORY,
    LOG_LEVEL,
    ROOT_PATH,
    AppArgument,
    AppDirOption,
    FactoryOption,
    LogLevelOption,
    RootPathOption,
)
from asgiforge.server.dev.options import DEFAULT_INCLUDES, DevOptions
from asgiforge.server.options import AppTarget, HTTPOptions

if TYPE_CHECKING:
    from asgiforge.server.dev.options import ReloadEvent, StartInfo

# The defaults every flag shows; the dataclasses are where they are stated.
_DEFAULT = DevOptions(AppTarget(""))


class RichReporter:
    """Prints the banner, reload lines and tracebacks with rich, on stderr like uvicorn's logs."""

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


def dev_command(
    app: AppArgument = None,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = _DEFAULT.host,
    port: Annotated[
        int, typer.Option("--port", "-p", envvar="PORT", help="Port to bind (also $PORT).")
    ] = _DEFAULT.port,
    app_dir: AppDirOption = APP_DIR,
    factory: FactoryOption = FACTORY,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="KEY=VALUE file loaded before each import (watched)."),
    ] = None,
    root_path: RootPathOption = ROOT_PATH,
    reload_dirs: Annotated[
        list[Path] | None,
        typer.Option("--reload-dir", help="Directory to watch (repeatable). Default: project."),
    ] = None,
    reload_includes: Annotated[
        list[str] | None,
        typer.Option(
            "--reload-include",
            help=f"Extra glob to watch (repeatable); {', '.join(DEFAULT_INCLUDES)} are always "
            "watched.",
        ),
    ] = None,
    reload_excludes: Annotated[
        list[str] | None,
        typer.Option(
            "--reload-exclude",
            help="Glob of files or directories to ignore (repeatable); .venv, .git, "
            "node_modules, __pycache__ and build folders are always ignored.",
        ),
    ] = None,
    no_reload: Annotated[
        bool, typer.Option("--no-reload", help="Serve once, without watching files.")
    ] = False,
    no_debug: Annotated[
        bool, typer.Option("--no-debug", help="Do not switch the app's debug mode on.")
    ] = False,
    graceful_timeout: Annotated[
        float,
        typer.Option(
            "--graceful-timeout",
            min=0.0,
            help="Seconds the old code may keep WebSockets and streams open after a reload.",
        ),
    ] = _DEFAULT.graceful_timeout,
    log_level: LogLevelOption = LOG_LEVEL,
) -> None:
    """Run the app for development: reload on save, 503 error page while the code is broken.

    The app's debug mode is on unless --no-debug.
    """
    from asgiforge import server
    from asgiforge.importer import resolve_target
    from asgiforge.server.dev.options import ReloadOptions, watch_dirs, watch_includes

    target = resolve_target(app, app_dir=app_dir, factory=factory, env_file=env_file)
    reload = None
    if not no_reload:
        reload = ReloadOptions(
            dirs=watch_dirs(target, reload_dirs or ()),
            includes=watch_includes(target, reload_includes or ()),
            excludes=tuple(reload_excludes or ()),
            graceful_timeout=graceful_timeout,
        )
    options = DevOptions(
        target=target,
        host=host,
        port=port,
        http=HTTPOptions(root_path=root_path, log_level=log_level),
        reload=reload,
        debug=not no_debug,
    )
    status = server.run(options, reporter=RichReporter())
    if status:
        raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    """Attach `dev` to the root command."""
    app.command("dev")(dev_command)
