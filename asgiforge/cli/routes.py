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

import re
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
    """The table, drawn here rather than by Rich: importing and laying out a Rich table was a
    third of `asgiforge routes` on a small app (0.13 s), for a grid of plain strings."""
    import shutil

    from asgiforge.cli.output import _printable

    show_host = any(row.host for row in rows)
    # (header, style, cells, may shrink): one entry per column, cells as plain strings.
    columns: list[tuple[str, str, list[str], bool]] = [
        ("Methods", "bold", [_methods(row) for row in rows], False)
    ]
    if show_host:
        columns.append(("Host", "magenta", [row.host or "" for row in rows], True))
    locations = [_location(row) for row in rows]
    columns += [
        ("Path", "cyan", [row.path for row in rows], False),
        ("Name", "green", [row.name or "" for row in rows], True),
        ("Endpoint", "", [_endpoint(row.endpoint, short=False) for row in rows], True),
        ("Location", "dim", locations, True),
        ("Kind", "yellow", [row.kind for row in rows], False),
    ]
    # Cells carry user-controlled text (paths, names): never let it drive the terminal.
    columns = [(h, style, [_printable(c) for c in cells], k) for h, style, cells, k in columns]
    width = shutil.get_terminal_size((80, 24)).columns  # $COLUMNS first, as Rich did
    widths = _fit(columns, width)
    if widths is None:
        # Too wide for the terminal. What can go first: an endpoint's module (its location
        # shows the file) and the Kind column, which says again what Methods says (GET: http,
        # WS: websocket); a row without methods shows its kind there instead.
        rows_methods = [_methods(row) or row.kind for row in rows]
        short = [_printable(_endpoint(row.endpoint, short=True)) for row in rows]
        columns = [
            ("Methods", "bold", rows_methods, False),
            *(
                (header, style, short if header == "Endpoint" else cells, shrink)
                for header, style, cells, shrink in columns[1:-1]
            ),
        ]
        widths = _fit(columns, width, squeeze=True) or []
    paint = _painter()
    print(paint(f"Routes of {_printable(import_string)}", "italic"))
    print("┏" + "┳".join("━" * (w + 2) for w in widths) + "┓")
    print(
        "┃"
        + "┃".join(
            f" {paint(c[0].ljust(w), 'bold')} " for c, w in zip(columns, widths, strict=True)
        )
        + "┃"
    )
    print("┡" + "╇".join("━" * (w + 2) for w in widths) + "┩")
    for number in range(len(rows)):
        folded = [_fold(c[2][number], w).split("\n") for c, w in zip(columns, widths, strict=True)]
        for line in range(max(len(pieces) for pieces in folded)):
            cells = [
                f" {paint((pieces[line] if line < len(pieces) else '').ljust(w), c[1])} "
                for c, w, pieces in zip(columns, widths, folded, strict=True)
            ]
            print("│" + "│".join(cells) + "│")
    print("└" + "┴".join("─" * (w + 2) for w in widths) + "┘")
    if not rows:
        print("no routes match the filters")
    if problems:
        from rich.text import Text

        from asgiforge.cli.output import err

        for problem in problems:
            if problem.severity == "error":
                label = Text(f"{problem.kind}: ", style="bold red")
            else:
                label = Text(f"warning: {problem.kind}: ", style="bold yellow")
            err().print(label + Text(problem.message))
    if check and not problems:
        print(paint("check: no shadowed routes, collisions or duplicate names", "green"))
    elif check and all(problem.severity == "warning" for problem in problems):
        print(paint("check: no shadowed routes (warnings above)", "green"))


_SGR = {"bold": "1", "dim": "2", "italic": "3", "green": "32", "yellow": "33"}
_SGR.update({"magenta": "35", "cyan": "36"})


def _painter() -> Any:
    """`paint(text, style)`: ANSI styles on a terminal, as Rich would decide (``NO_COLOR`` set:
    none; ``FORCE_COLOR`` set: always; ``TERM=dumb`` or not a terminal: none)."""
    import os
    import sys

    if os.environ.get("NO_COLOR"):
        colour = False
    elif os.environ.get("FORCE_COLOR"):
        colour = True
    else:
        colour = os.environ.get("TERM") != "dumb" and sys.stdout.isatty()

    def paint(text: str, style: str) -> str:
        if not colour or style not in _SGR or not text:
            return text
        return f"\x1b[{_SGR[style]}m{text}\x1b[0m"

    return paint


def _methods(row: Any) -> str:
    if row.kind == "websocket":
        return "WS"
    methods = ", ".join(m for m in row.methods if m != "HEAD" or "GET" not in row.methods)
    return methods or ("*" if row.kind == "http" else "")


def _endpoint(endpoint: str | None, *, short: bool) -> str:
    """An endpoint's dotted name as a reader wants it: without the ``<locals>.`` of a function
    defined in a factory, and with `short`, without its module (shown by the location)."""
    if not endpoint:
        return ""
    name = endpoint.replace("<locals>.", "")
    if short:
        import sys

        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            if ".".join(parts[:cut]) in sys.modules:
                return ".".join(parts[cut:])
    return name


def _location(row: Any) -> str:
    """file:line, relative to the working directory, or else to the import root it is under
    (``asgiforge/runtime/health.py:58`` rather than a site-packages path)."""
    import os
    import sys

    if not row.file:
        return ""
    file = os.path.abspath(row.file)
    roots = [os.getcwd(), *(os.path.abspath(p) for p in sys.path if p)]
    under = [root for root in roots if file.startswith(root.rstrip(os.sep) + os.sep)]
    if under:
        file = os.path.relpath(file, max(under, key=len) if under[0] != roots[0] else under[0])
    return f"{file}:{row.line}" if row.line else file


# Border and padding of a rich table: one vertical line per column plus one, one space each side.
def _chrome(count: int) -> int:
    return 3 * count + 1


def _fit(
    columns: list[tuple[str, str, list[str], bool]], total: int, *, squeeze: bool = False
) -> list[int] | None:
    """Column widths that fit `total` characters; None if the natural widths do not fit and
    `squeeze` is off. Squeezing narrows the widest shrinkable column first, down to its
    header, then the Path column; what still does not fit is left to rich."""
    natural = [
        max([len(header)] + [len(line) for cell in cells for line in cell.split("\n")])
        for header, _, cells, _ in columns
    ]
    room = total - _chrome(len(columns))
    if sum(natural) <= room:
        return natural
    if not squeeze:
        return None
    widths = list(natural)
    for allowed in (
        [i for i, column in enumerate(columns) if column[3]],
        [i for i, column in enumerate(columns) if column[3] or column[0] == "Path"],
    ):
        while sum(widths) > room:
            floor = {i: _floor(columns[i]) for i in allowed}
            candidates = [i for i in allowed if widths[i] > floor[i]]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i])
            widths[widest] -= 1
    return widths


def _floor(column: tuple[str, str, list[str], bool]) -> int:
    """The narrowest a column gets: its header, and its longest word, so that a name like
    ``StaticFiles`` (up to 12 characters) or a location's ``file.py:line`` (up to 24) is not
    cut in the middle while there is room elsewhere."""
    header, _, cells, _ = column
    if header == "Location":
        longest = max((len(cell.rpartition("/")[2]) for cell in cells), default=0)
        return max(len(header), min(24, longest))
    words = [len(word) for cell in cells for word in re.split(r"(?<=[/.:_\-])", cell)]
    return max(len(header), min(12, max(words, default=0)))


def _fold(text: str, width: int) -> str:
    """`text` in lines of at most `width`, each broken after a ``/`` (else a ``.``, else a
    ``:``, ``_`` or ``-``) in its second half, else after any of them, else at the width:
    names and paths stay readable."""
    if width <= 0:
        return text
    lines = []
    while len(text) > width:
        cuts = [
            max(text.rfind(separator, 0, width) for separator in separators) + 1
            for separators in ("/", ".", ":_-")
        ]
        # The first kind of separator found in the line's second half, else the last separator
        # anywhere, else the width.
        cut = next((cut for cut in cuts if cut >= width // 2), max(cuts) or width)
        lines.append(text[:cut])
        text = text[cut:]
    lines.append(text)
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Attach `routes` to the root command."""
    app.command("routes")(routes_command)
