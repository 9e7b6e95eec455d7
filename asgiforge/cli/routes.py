"""`asgiforge routes [APP]`: the routing table, as a rich table or JSON, with a CI check.

A thin shell: resolve and load the app (`asgiforge.importer`), ask `asgiforge.introspect` for
the rows and problems, render. The JSON schema is part of the public interface:

    {
      "schema": 1,
      "app": "pkg.app:app",
      "routes": [
        {"kind": "http" | "websocket" | "mount" | "static" | "asgi" | "host",
         "methods": ["GET", "HEAD"], "path": "/users/{id:int}", "host": null | "api.example.com",
         "name": "users:detail" | null, "endpoint": "pkg.views.detail" | null,
         "file": "/abs/path.py" | null, "line": 12 | null}
      ],
      "problems": [
        {"kind": "shadowed" | "url-collision" | "duplicate-name",
         "severity": "error" | "warning", "message": "...",
         "paths": ["/later", "/earlier"], "names": ["later", "earlier"]}
      ]
    }

`routes` lists what the filters kept, in routing order; `problems` is always present (empty
unless `--check`). Only `"error"` problems (shadowed routes) make `--check` exit 1; repeated
names are legal, as in Starlette, and are `"warning"`s. New keys may be added; existing keys
keep their meaning while `schema` is 1.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from asgiforge.cli._params import APP_DIR, FACTORY, AppArgument, AppDirOption, FactoryOption
from asgiforge.errors import RouteCheckError

JSON_HELP = (
    "Print JSON instead of a table. Schema 1: {schema, app, routes: [{kind, methods, path, "
    "host, name, endpoint, file, line}], problems: [{kind, severity, message, paths, names}]}; "
    "kind is http|websocket|mount|static|asgi|host; problems is empty unless --check."
)


def routes_command(
    app: AppArgument = None,
    app_dir: AppDirOption = APP_DIR,
    factory: FactoryOption = FACTORY,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    method: Annotated[
        str | None,
        typer.Option("--method", "-m", help="Only routes accepting this method (WS: websockets)."),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", "-p", help="Only paths starting with this, or matching a glob."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Only names containing this, or matching a glob."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 on a shadowed route; warn about repeated route names.",
        ),
    ] = False,
) -> None:
    """List the routing table: methods, full path, name, endpoint, file:line and kind.

    Mounts are flattened and Host routes show their host. With --check, a route that can
    never match makes the command exit 1; repeated names (legal, often a mistake) are warned
    about.
    """
    from asgiforge.importer import load_app, resolve_target
    from asgiforge.introspect import check_routes, collect_routes, filter_routes

    target = resolve_target(app, app_dir=app_dir, factory=factory)
    application = load_app(target)
    rows = filter_routes(collect_routes(application), method=method, path=path, name=name)
    problems = check_routes(application) if check else []
    if as_json:
        _print_json(target.import_string, rows, problems)
    else:
        _print_table(target.import_string, rows, problems, check)
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors:
        raise RouteCheckError(f"{len(errors)} routing problem(s) found")


def _print_json(import_string: str, rows: list[Any], problems: list[Any]) -> None:
    import json

    from asgiforge.introspect import JSON_SCHEMA_VERSION, problem_to_json, route_to_json

    document = {
        "schema": JSON_SCHEMA_VERSION,
        "app": import_string,
        "routes": [route_to_json(row) for row in rows],
        "problems": [problem_to_json(problem) for problem in problems],
    }
    # Plain print, not rich: JSON must never be wrapped or coloured.
    print(json.dumps(document, indent=2))


def _print_table(import_string: str, rows: list[Any], problems: list[Any], check: bool) -> None:
    import os

    from rich.table import Table
    from rich.text import Text

    from asgiforge.cli.output import err, out

    show_host = any(row.host for row in rows)
    table = Table(title=f"Routes of {import_string}", title_justify="left", show_lines=False)
    # Narrow terminals fold long cells rather than eliding them: a table that hides the
    # endpoint or its file behind "…" answers nothing.
    table.add_column("Methods", style="bold", no_wrap=True)
    if show_host:
        table.add_column("Host", style="magenta", overflow="fold")
    table.add_column("Path", style="cyan", no_wrap=True)
    table.add_column("Name", style="green", overflow="fold")
    table.add_column("Endpoint", overflow="fold")
    table.add_column("Location", style="dim", overflow="fold")
    table.add_column("Kind", style="yellow", no_wrap=True)
    cwd = os.getcwd()
    for row in rows:
        methods = ", ".join(m for m in row.methods if m != "HEAD" or "GET" not in row.methods)
        if row.kind == "websocket":
            methods = "WS"
        location = ""
        if row.file:
            file = os.path.relpath(row.file, cwd) if row.file.startswith(cwd) else row.file
            location = f"{file}:{row.line}" if row.line else file
        cells = [Text(methods or ("*" if row.kind == "http" else ""))]
        if show_host:
            cells.append(Text(row.host or ""))
        cells += [
            Text(row.path),
            Text(row.name or ""),
            Text(row.endpoint or ""),
            Text(location),
            Text(row.kind),
        ]
        table.add_row(*cells)
    out().print(table)
    if not rows:
        out().print("no routes match the filters")
    for problem in problems:
        if problem.severity == "error":
            label = Text(f"{problem.kind}: ", style="bold red")
        else:
            label = Text(f"warning: {problem.kind}: ", style="bold yellow")
        err().print(label + Text(problem.message))
    if check and not problems:
        out().print(Text("check: no shadowed routes, collisions or duplicate names", "green"))
    elif check and all(problem.severity == "warning" for problem in problems):
        out().print(Text("check: no shadowed routes (warnings above)", "green"))


def register(app: typer.Typer) -> None:
    """Attach `routes` to the root command."""
    app.command("routes")(routes_command)
