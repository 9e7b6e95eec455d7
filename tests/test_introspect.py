"""The routing table as data and the `--check` analysis.

The fakes below mimic Starlette's public route attributes (no ``describe``), which is exactly
how a plain Starlette or FastAPI app is read; one fake has ``describe`` to prove it is preferred.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from asgiforge.errors import AppNotFoundError
from asgiforge.introspect import (
    check_routes,
    collect_routes,
    filter_routes,
    problem_to_json,
    route_to_json,
    top_level_routes,
)
from asgiforge.runtime.routeinfo import RouteInfo


async def home(request: Any) -> None: ...


async def user(request: Any) -> None: ...


async def me(request: Any) -> None: ...


async def chat(websocket: Any) -> None: ...


class Route:
    def __init__(
        self, path: str, endpoint: Any, methods: list[str] | None = None, name: str | None = None
    ) -> None:
        self.path, self.endpoint, self.name = path, endpoint, name or endpoint.__name__
        self.methods = {m.upper() for m in (methods or ["GET"])} | (
            {"HEAD"} if "GET" in (methods or ["GET"]) else set()
        )


class WebSocketRoute:
    def __init__(self, path: str, endpoint: Any, name: str | None = None) -> None:
        self.path, self.endpoint, self.name = path, endpoint, name or endpoint.__name__


class Router:
    def __init__(self, routes: list[Any]) -> None:
        self.routes = routes


class Mount:
    def __init__(
        self, path: str, app: Any = None, routes: list[Any] | None = None, name: str | None = None
    ) -> None:
        self.path, self.name = path, name
        self.app = app if app is not None else Router(routes or [])

    @property
    def routes(self) -> list[Any]:
        return list(getattr(self.app, "routes", []))


class Host:
    def __init__(self, host: str, app: Any, name: str | None = None) -> None:
        self.host, self.app, self.name = host, app, name

    @property
    def routes(self) -> list[Any]:
        return list(getattr(self.app, "routes", []))


class StaticFiles:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


class App:
    def __init__(self, routes: list[Any]) -> None:
        self.router = Router(routes)

    @property
    def routes(self) -> list[Any]:
        return self.router.routes


class Middleware:
    def __init__(self, app: Any) -> None:
        self.app = app


class Described:
    """A runtime-style route: reports itself, so introspect must not look at its attributes."""

    path = "/ignored"

    def describe(self, prefix: str, host: str | None) -> Iterator[RouteInfo]:
        yield RouteInfo(
            kind="http", path=prefix + "/described", name="described", methods=("GET",), host=host
        )


def nested_app() -> App:
    api = Router([Route("/users", home, name="users"), Route("/users/{id:int}", user, name="user")])
    return App(
        [
            Route("/", home, name="home"),
            Mount("/api", app=api, name="api"),
            Mount("/static", app=StaticFiles(), name="static"),
            Host(
                "admin.example.com", app=Router([Route("/", home, name="admin_home")]), name="admin"
            ),
            WebSocketRoute("/ws", chat),
            Described(),
        ]
    )


def test_nested_table_flattens_mounts_hosts_and_namespaces() -> None:
    rows = collect_routes(nested_app())
    summary = [(r.kind, r.path, r.name, r.host, r.methods) for r in rows]
    assert summary == [
        ("http", "/", "home", None, ("GET", "HEAD")),
        ("mount", "/api", "api", None, ()),
        ("http", "/api/users", "api:users", None, ("GET", "HEAD")),
        ("http", "/api/users/{id:int}", "api:user", None, ("GET", "HEAD")),
        ("static", "/static", "static", None, ()),
        ("host", "/", "admin", "admin.example.com", ()),
        ("http", "/", "admin:admin_home", "admin.example.com", ("GET", "HEAD")),
        ("websocket", "/ws", "chat", None, ()),
        ("http", "/described", "described", None, ("GET",)),
    ]
    first = rows[0]
    assert first.endpoint == f"{__name__}.home"
    assert first.file == __file__ and isinstance(first.line, int)


def test_routes_found_through_middleware_wrappers() -> None:
    app = Middleware(Middleware(nested_app()))
    assert len(top_level_routes(app)) == 6


def test_no_routing_table_is_a_clear_error() -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None: ...

    with pytest.raises(AppNotFoundError, match="cannot list routes: function has no routing table"):
        collect_routes(bare)


def test_filters() -> None:
    rows = collect_routes(nested_app())
    assert [r.path for r in filter_routes(rows, path="/api")] == [
        "/api",
        "/api/users",
        "/api/users/{id:int}",
    ]
    assert [r.path for r in filter_routes(rows, path="/api/*/{*")] == ["/api/users/{id:int}"]
    assert [r.name for r in filter_routes(rows, name="user")] == ["api:users", "api:user"]
    assert [r.name for r in filter_routes(rows, name="api:*")] == ["api:users", "api:user"]
    assert [r.name for r in filter_routes(rows, method="ws")] == ["chat"]
    assert len(filter_routes(rows, method="head")) == 4
    assert filter_routes(rows, method="post") == []


def test_clean_app_has_no_problems() -> None:
    assert check_routes(nested_app()) == []


def test_parameter_route_shadows_literal_route() -> None:
    app = App([Route("/users/{name}", user), Route("/users/me", me)])
    [problem] = check_routes(app)
    assert problem.kind == "shadowed"
    assert problem.routes[0].path == "/users/me" and problem.routes[1].path == "/users/{name}"
    assert "is shadowed by the earlier http /users/{name} (user)" in problem.message


def test_convertor_narrows_what_is_shadowed() -> None:
    assert check_routes(App([Route("/users/{id:int}", user), Route("/users/me", me)])) == []
    # a path parameter catches more than a str one: str first does not shadow path.
    assert check_routes(App([Route("/f/{a}", user), Route("/f/{b:path}", me)])) == []
    [problem] = check_routes(App([Route("/f/{a:path}", user), Route("/f/{b}", me)]))
    assert problem.kind == "shadowed"


def test_methods_decide_shadowing() -> None:
    assert check_routes(App([Route("/x", home, ["POST"]), Route("/x", me, ["GET"])])) == []
    [problem] = check_routes(App([Route("/x", home, ["GET", "POST"]), Route("/x", me, ["GET"])]))
    assert problem.kind == "shadowed"


def test_websocket_and_http_on_same_path_do_not_shadow() -> None:
    assert check_routes(App([Route("/live", home), WebSocketRoute("/live", chat)])) == []


def test_mount_prefix_shadows_later_routes_below_it() -> None:
    app = App([Mount("/api", routes=[Route("/a", home)]), Route("/api/b", me)])
    [problem] = check_routes(app)
    assert problem.kind == "shadowed" and problem.routes[0].path == "/api/b"
    assert problem.routes[1].kind == "mount"


def test_shadowing_inside_a_mount() -> None:
    app = App([Mount("/api", routes=[Route("/{x}", user), Route("/me", me)])])
    [problem] = check_routes(app)
    assert problem.routes[0].path == "/api/me"


def test_hosts_are_compared_only_with_the_same_host() -> None:
    app = App(
        [
            Host("a.example", app=Router([Route("/", home)])),
            Route("/", me),  # other hosts still reach it
            Host("a.example", app=Router([Route("/x", me)])),  # never reached
        ]
    )
    [problem] = check_routes(app)
    assert problem.routes[0].path == "/x" and problem.routes[0].host == "a.example"


def test_custom_convertor_is_never_reported() -> None:
    assert check_routes(App([Route("/d/{when:datetime}", user), Route("/d/{x}", me)])) == []


def test_url_collision_and_duplicate_names() -> None:
    app = App(
        [
            Route("/a/{id}", home, name="item"),
            Route("/b/{id}", user, name="item"),
            Route("/c", me, name="item"),
            Route("/c", me, ["POST"], name="item"),  # same URL, another method: fine
        ]
    )
    problems = check_routes(app)
    assert [(p.kind, p.routes[0].path) for p in problems] == [
        ("url-collision", "/b/{id}"),
        ("duplicate-name", "/c"),
    ]
    assert "url_path_for('item') always builds /a/{id}" in problems[0].message


def test_json_shapes() -> None:
    row = collect_routes(App([Route("/", home)]))[0]
    assert route_to_json(row) == {
        "kind": "http",
        "methods": ["GET", "HEAD"],
        "path": "/",
        "host": None,
        "name": "home",
        "endpoint": f"{__name__}.home",
        "file": __file__,
        "line": row.line,
    }
    [problem] = check_routes(App([Route("/{x}", user), Route("/me", me)]))
    assert problem_to_json(problem) == {
        "kind": "shadowed",
        "severity": "error",
        "message": problem.message,
        "paths": ["/me", "/{x}"],
        "names": ["me", "user"],
    }


def test_patterns_are_compiled_as_the_runtime_compiles_them() -> None:
    # `{$url}` is literal text (no parameter): it catches only itself, not `/cb/x7`.
    assert check_routes(App([Route("/cb/{$url}", user), Route("/cb/x7", me)])) == []
    # A mount's `{org}` and its child's `{org}` share a name; the joined pattern still compiles.
    app = App([Mount("/{org}", routes=[Route("/{org}", user)]), Route("/x/y", me)])
    [problem] = check_routes(app)
    assert (problem.kind, problem.routes[0].path) == ("shadowed", "/x/y")
