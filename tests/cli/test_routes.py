"""`asgiforge routes` as a user runs it: table, JSON, filters, --check and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asgiforge.cli import app as cli
from asgiforge.errors import AppNotFoundError, RouteCheckError

# A Starlette-shaped app without any runtime import: read through duck typing, the way a plain
# Starlette or FastAPI app is.
DUCK_APP = textwrap.dedent(
    """
    class Route:
        def __init__(self, path, endpoint, methods=("GET",), name=None):
            self.path, self.endpoint = path, endpoint
            self.name = name or endpoint.__name__
            self.methods = set(methods) | ({"HEAD"} if "GET" in methods else set())

    class WebSocketRoute:
        def __init__(self, path, endpoint):
            self.path, self.endpoint, self.name = path, endpoint, endpoint.__name__

    class Router:
        def __init__(self, routes):
            self.routes = routes

    class Mount:
        def __init__(self, path, app, name=None):
            self.path, self.app, self.name = path, app, name

        @property
        def routes(self):
            return getattr(self.app, "routes", [])

    class StaticFiles:
        async def __call__(self, scope, receive, send): ...

    class Starlette:
        def __init__(self, routes):
            self.router = Router(routes)

        @property
        def routes(self):
            return self.router.routes

        async def __call__(self, scope, receive, send): ...

    async def home(request): ...
    async def detail(request): ...
    async def create(request): ...
    async def feed(websocket): ...

    api = Router([
        Route("/items", create, methods=("POST",), name="create"),
        Route("/items/{id:int}", detail, name="detail"),
    ])
    app = Starlette([
        Route("/", home),
        Mount("/api", api, name="api"),
        Mount("/static", StaticFiles(), name="static"),
        WebSocketRoute("/feed", feed),
    ])
    bad = Starlette(
        [Route("/{page}", home), Route("/about", detail), Route("/x", create, name="home")]
    )
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "duckapp.py").write_text(DUCK_APP)
    monkeypatch.chdir(tmp_path)
    modules = set(sys.modules)
    path = list(sys.path)
    yield tmp_path
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path[:] = path


runner = CliRunner()


def test_table_shows_every_column(project: Path) -> None:
    result = runner.invoke(cli, ["routes", "duckapp:app"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if "/api/items/{id:int}" in line)
    for cell in ("GET", "api:detail", "duckapp.detail", "duckapp.py:", "http"):
        assert cell in row
    assert "HEAD" not in row  # implied by GET, not noise in the table
    assert any("/static" in line and "static" in line.split("/static")[1] for line in lines)
    assert any("/feed" in line and "WS" in line and "websocket" in line for line in lines)


def test_json_schema(project: Path) -> None:
    result = runner.invoke(cli, ["routes", "duckapp:app", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == 1 and document["app"] == "duckapp:app"
    assert document["problems"] == []
    assert [(r["kind"], r["path"], r["name"]) for r in document["routes"]] == [
        ("http", "/", "home"),
        ("mount", "/api", "api"),
        ("http", "/api/items", "api:create"),
        ("http", "/api/items/{id:int}", "api:detail"),
        ("static", "/static", "static"),
        ("websocket", "/feed", "feed"),
    ]
    detail = document["routes"][3]
    assert detail["methods"] == ["GET", "HEAD"] and detail["endpoint"] == "duckapp.detail"
    assert detail["file"] == str(project / "duckapp.py") and detail["line"] > 0
    assert set(detail) == {"kind", "methods", "path", "host", "name", "endpoint", "file", "line"}


@pytest.mark.parametrize(
    ("args", "paths"),
    [
        (["--method", "post"], ["/api/items"]),
        (["--method", "WS"], ["/feed"]),
        (["--path", "/api"], ["/api", "/api/items", "/api/items/{id:int}"]),
        (["--path", "*/{id*"], ["/api/items/{id:int}"]),
        (["--name", "api:*"], ["/api/items", "/api/items/{id:int}"]),
        (["--name", "det", "--method", "GET"], ["/api/items/{id:int}"]),
    ],
)
def test_filters(project: Path, args: list[str], paths: list[str]) -> None:
    result = runner.invoke(cli, ["routes", "duckapp:app", "--json", *args])
    assert result.exit_code == 0, result.output
    assert [r["path"] for r in json.loads(result.stdout)["routes"]] == paths


def test_check_passes_on_clean_app(project: Path) -> None:
    result = runner.invoke(cli, ["routes", "duckapp:app", "--check"])
    assert result.exit_code == 0, result.output
    assert "check: no shadowed routes" in result.output


def test_check_fails_with_problems(project: Path) -> None:
    result = runner.invoke(cli, ["routes", "duckapp:bad", "--check", "--json"])
    assert isinstance(result.exception, RouteCheckError)
    problems = json.loads(result.stdout)["problems"]
    assert [(p["kind"], p["paths"][0]) for p in problems] == [
        ("shadowed", "/about"),
        ("shadowed", "/x"),
        ("duplicate-name", "/x"),
    ]


def test_app_found_by_convention(project: Path) -> None:
    (project / "main.py").write_text("from duckapp import app\n")
    result = runner.invoke(cli, ["routes", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["app"] == "main:app"


def test_missing_app_error(project: Path) -> None:
    result = runner.invoke(cli, ["routes", "nosuch:app"])
    assert isinstance(result.exception, AppNotFoundError)
    assert "no module 'nosuch'" in str(result.exception)


def _run(project: Path, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "asgiforge", "routes", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_exit_codes_and_one_line_errors_from_the_real_command(project: Path) -> None:
    (project / "broken.py").write_text("import not_installed_anywhere\n")
    missing = _run(project, "nosuch:app")
    assert missing.returncode == 2
    assert "error: no module 'nosuch'" in missing.stderr and "Traceback" not in missing.stderr
    broken = _run(project, "broken:app")
    assert broken.returncode == 3
    assert "the import of 'broken' failed: ModuleNotFoundError" in broken.stderr
    bad = _run(project, "duckapp:bad", "--check")
    assert bad.returncode == 1
    assert "shadowed: http route GET,HEAD /about" in bad.stderr
    assert "warning: duplicate-name: name 'home'" in bad.stderr
    assert "error: 2 routing problem(s) found" in bad.stderr  # warnings do not fail the check


RUNTIME_APP = textwrap.dedent(
    """
    from pathlib import Path

    from asgiforge.runtime.applications import App
    from asgiforge.runtime.responses import PlainTextResponse
    from asgiforge.runtime.routing import Host, Mount, Route, Router, WebSocketRoute
    from asgiforge.runtime.staticfiles import StaticFiles

    async def home(request):
        return PlainTextResponse("home")

    async def user(request):
        return PlainTextResponse("user")

    async def chat(websocket):
        await websocket.accept()

    users = Router([
        Route("/", home, name="list"),
        Route("/{id:int}", user, methods=["GET", "DELETE"], name="detail"),
    ])
    admin = Router([Route("/", home, name="dashboard")])
    static_dir = Path(__file__).parent / "static"
    static_dir.mkdir(exist_ok=True)

    app = App(routes=[
        Route("/", home, name="home"),
        Mount("/api", routes=[Mount("/users", app=users, name="users")], name="api"),
        Mount("/static", app=StaticFiles(directory=static_dir), name="static"),
        Host("admin.example.com", app=admin, name="admin"),
        WebSocketRoute("/ws", chat, name="chat"),
    ])

    shadowed = App(routes=[
        Route("/users/{name}", user, name="user"),
        Route("/users/me", home, name="me"),
        Mount("/api", routes=[Route("/a", home)]),
        Route("/api/b", home, name="b"),
    ])
    """
)


@pytest.fixture
def runtime_project(project: Path) -> Path:
    (project / "runtimeapp.py").write_text(RUNTIME_APP)
    return project


def test_runtime_nested_app_json(runtime_project: Path) -> None:
    result = runner.invoke(cli, ["routes", "runtimeapp:app", "--json"])
    assert result.exit_code == 0, result.output
    routes = json.loads(result.stdout)["routes"]
    assert [(r["kind"], r["host"], r["path"], r["name"], r["methods"]) for r in routes] == [
        ("http", None, "/", "home", ["GET", "HEAD"]),
        ("mount", None, "/api", "api", []),
        ("mount", None, "/api/users", "api:users", []),
        ("http", None, "/api/users/", "api:users:list", ["GET", "HEAD"]),
        ("http", None, "/api/users/{id:int}", "api:users:detail", ["DELETE", "GET", "HEAD"]),
        ("static", None, "/static", "static", []),
        ("host", "admin.example.com", "/", "admin", []),
        ("http", "admin.example.com", "/", "admin:dashboard", ["GET", "HEAD"]),
        ("websocket", None, "/ws", "chat", []),
    ]
    detail = routes[4]
    assert detail["endpoint"] == "runtimeapp.user"
    assert detail["file"] == str(runtime_project / "runtimeapp.py") and detail["line"] == 12


def test_runtime_nested_app_table(runtime_project: Path) -> None:
    result = runner.invoke(cli, ["routes", "runtimeapp:app"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if "Methods" in line)
    for column in ("Host", "Path", "Name", "Endpoint", "Location", "Kind"):
        assert column in header
    detail = next(line for line in lines if "{id:int}" in line)
    assert "DELETE, GET" in detail and "runtimeapp.py:12" in detail and "http" in detail
    admin = next(line for line in lines if "admin:dashboard" in line)
    assert "admin.example.com" in admin


def test_runtime_check_reports_shadowing(runtime_project: Path) -> None:
    result = runner.invoke(cli, ["routes", "runtimeapp:shadowed", "--check", "--json"])
    assert isinstance(result.exception, RouteCheckError)
    problems = json.loads(result.stdout)["problems"]
    assert [(p["kind"], p["paths"]) for p in problems] == [
        ("shadowed", ["/users/me", "/users/{name}"]),
        ("shadowed", ["/api/b", "/api"]),
    ]
    clean = runner.invoke(cli, ["routes", "runtimeapp:app", "--check"])
    assert clean.exit_code == 0, clean.output


def test_duplicate_route_names_are_listed_and_only_warned_about_by_the_real_command(
    project: Path,
) -> None:
    (project / "dupes.py").write_text(
        textwrap.dedent(
            """
            from asgiforge.runtime.applications import App
            from asgiforge.runtime.routing import Route

            async def a(request): ...
            async def b(request): ...

            app = App(routes=[Route("/a", a, name="item"), Route("/b/{id}", b, name="item")])
            """
        )
    )
    listed = _run(project, "dupes:app", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["path"] for r in json.loads(listed.stdout)["routes"]] == ["/a", "/b/{id}"]
    checked = _run(project, "dupes:app", "--check")
    assert checked.returncode == 0, checked.stderr
    assert "warning: duplicate-name: name 'item' is used by both /a and /b/{id}" in checked.stderr
    assert "check: no shadowed routes (warnings above)" in checked.stdout
    as_json = _run(project, "dupes:app", "--check", "--json")
    assert as_json.returncode == 0
    [problem] = json.loads(as_json.stdout)["problems"]
    assert (problem["kind"], problem["severity"]) == ("duplicate-name", "warning")


FACTORY_APP = textwrap.dedent(
    """
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.routing import Mount, Route, Router
    from asgiforge.runtime.staticfiles import StaticFiles

    def create_application():
        async def list_customer_invoices(request): ...
        async def download_customer_invoice(request): ...

        invoices = Router([
            Route("/", list_customer_invoices, name="list_customer_invoices"),
            Route("/{id:int}/pdf", download_customer_invoice, name="download_invoice"),
        ])
        return App(routes=[
            Mount("/customers/invoices", app=invoices, name="customer_invoices"),
            Mount("/static", app=StaticFiles(directory=".", check_dir=False), name="static"),
        ])

    app = create_application()
    """
)


def test_at_80_columns_the_table_folds_names_at_their_dots_and_drops_locals(
    project: Path,
) -> None:
    (project / "factoryapp.py").write_text(FACTORY_APP)
    wide = _run(project, "factoryapp:app", columns=250)
    assert "factoryapp.create_application.list_customer_invoices" in wide.stdout
    assert "<locals>" not in wide.stdout
    narrow = _run(project, "factoryapp:app", columns=80)
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "<locals>" not in narrow.stdout
    header = [
        cell.strip() for cell in next(line for line in lines if "Endpoint" in line).split("┃")
    ]
    endpoint, location = header.index("Endpoint"), header.index("Location")
    rows: list[list[list[str]]] = []  # per row, per column, the pieces of the folded cell
    for line in lines:
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) != len(header):
            continue
        if cells[1]:  # the Methods cell starts a row
            rows.append([[] for _ in cells])
        for column, cell in enumerate(cells):
            if cell:
                rows[-1][column].append(cell)
    endpoints = ["".join(row[endpoint]) for row in rows]
    assert endpoints == [
        "Router",
        "create_application.list_customer_invoices",
        "create_application.download_customer_invoice",
        "StaticFiles",
    ]
    for row in rows:
        for pieces in row:
            # A folded cell breaks after a separator, never inside a word ("invoi" "ces").
            assert all(piece[-1] in "/.:_-" for piece in pieces[:-1]), pieces
    assert rows[1][location] == ["factoryapp.py:7"]  # a location is never cut inside its file


def test_a_mount_is_located_in_the_users_code_not_in_asgiforge(project: Path) -> None:
    (project / "factoryapp.py").write_text(FACTORY_APP)
    listed = _run(project, "factoryapp:app", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["path"]: row for row in json.loads(listed.stdout)["routes"]}
    mount = rows["/customers/invoices"]
    assert mount["endpoint"] == "asgiforge.runtime.routing.Router"
    # At its first route, the user's code: not asgiforge/runtime/routing.py.
    assert (mount["file"], mount["line"]) == (str(project / "factoryapp.py"), 7)
    assert (rows["/static"]["file"], rows["/static"]["line"]) == (None, None)


def test_the_table_is_coloured_only_where_rich_would_colour_it(project: Path) -> None:
    (project / "factoryapp.py").write_text(FACTORY_APP)
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    forced = subprocess.run(
        [sys.executable, "-m", "asgiforge", "routes", "factoryapp:app"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "FORCE_COLOR": "1"},
        check=False,
    )
    assert forced.returncode == 0, forced.stderr
    assert "\x1b[36m/customers/invoices" in forced.stdout  # the Path column in cyan
    piped = subprocess.run(  # not a terminal: plain text
        [sys.executable, "-m", "asgiforge", "routes", "factoryapp:app"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in env.items() if k != "FORCE_COLOR"},
        check=False,
    )
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout
    assert "/customers/invoices" in piped.stdout
    no_colour = _run(project, "factoryapp:app")  # NO_COLOR=1
    assert "\x1b[" not in no_colour.stdout


def test_a_route_path_cannot_drive_the_terminal(project: Path) -> None:
    (project / "escapes.py").write_text(
        "from asgiforge.runtime.applications import App\n"
        "from asgiforge.runtime.routing import Route\n"
        "async def home(request): ...\n"
        "app = App(routes=[Route('/a\\x1b[2Jb', home, name='x\\x07')])\n"
    )
    result = _run(project, "escapes:app")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "/a\\x1b[2Jb" in result.stdout
