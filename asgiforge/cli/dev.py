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

if TYPE_CHECKING:
    from asgiforge.server.dev_options import ReloadEvent, StartInfo


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
    app: Annotated[
        str | None,
        typer.Argument(
            help="module:attr, module:factory() or path/to/file.py:attr. Default: "
            "[tool.asgiforge] app in pyproject.toml, then main.py, app.py, app/main.py, src/<pkg>.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", envvar="PORT", help="Port to bind (also $PORT).")
    ] = 8000,
    app_dir: Annotated[
        Path, typer.Option("--app-dir", help="Directory to import the app from.")
    ] = Path("."),
    factory: Annotated[
        bool, typer.Option("--factory", help="APP is a factory to call with no arguments.")
    ] = False,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="KEY=VALUE file loaded before each import (watched)."),
    ] = None,
    root_path: Annotated[
        str, typer.Option("--root-path", help="ASGI root_path, when behind a path prefix.")
    ] = "",
    reload_dirs: Annotated[
        list[Path] | None,
        typer.Option("--reload-dir", help="Directory to watch (repeatable). Default: project."),
    ] = None,
    reload_includes: Annotated[
        list[str] | None,
        typer.Option(
            "--reload-include",
            help="Extra glob to watch (repeatable); *.py, *.html, *.jinja, *.j2, .env and "
            "pyproject.toml are always watched.",
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
    ] = 3.0,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")] = "info",
) -> None:
    """Run the app for development: reload on save, 503 error page while the code is broken.

    Binds 127.0.0.1:8000 by default. The app's debug mode is on unless --no-debug.
    """
    from asgiforge import server
    from asgiforge.errors import UsageError
    from asgiforge.importer import find_pyproject, resolve_target
    from asgiforge.server.dev_options import DEFAULT_INCLUDES, DevOptions, ReloadOptions
    from asgiforge.server.options import HTTPOptions

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a port number (0-65535)")
    target = resolve_target(app, app_dir=app_dir, factory=factory, env_file=env_file)
    reload = None
    if not no_reload:
        if reload_dirs:
            missing = [d for d in reload_dirs if not d.is_dir()]
            if missing:
                raise UsageError(f"--reload-dir '{missing[0]}' is not a directory")
            dirs = tuple(d.resolve() for d in reload_dirs)
        else:
            pyproject = find_pyproject(target.app_dir.resolve())
            project = pyproject.parent if pyproject else target.app_dir.resolve()
            # Watch the project, or the app dir when it lives outside the project.
            app_dir_resolved = target.app_dir.resolve()
            dirs = (project,) if app_dir_resolved.is_relative_to(project) else (app_dir_resolved,)
        includes = DEFAULT_INCLUDES + tuple(reload_includes or ())
        if env_file is not None:
            includes += (env_file.name,)
        reload = ReloadOptions(
            dirs=dirs,
            includes=includes,
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
