"""The router's lookup index: it skips only routes that cannot match, so first match wins."""

from __future__ import annotations

from typing import Any

from asgiforge.runtime.applications import App
from asgiforge.runtime.responses import PlainTextResponse
from asgiforge.runtime.routing import Host, Match, Mount, Route, Router, compile_path
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Receive, Scope, Send


async def ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def named(text: str) -> Any:
    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse(text)

    endpoint.__name__ = text
    return endpoint


def test_index_keeps_order_across_segments_wildcards_mounts_and_hosts() -> None:
    app = App(
        routes=[
            Route("/{slug}/{id}", named("wildcard")),
            Route("/items/{id}", named("items")),
        ]
    )
    assert TestClient(app).get("/items/1").text == "wildcard"
    app = App(
        routes=[
            Route("/items/{id}", named("items")),
            Mount("/api", routes=[Route("/x", named("mounted"))]),
            Route("/{slug}/{id}", named("wildcard")),
            Route("/api/x", named("shadowed")),
            Host("special.example", app=Router([Route("/after-host", named("host"))])),
            Route("/after-host", named("after-host")),
        ]
    )
    client = TestClient(app)
    assert client.get("/items/1").text == "items"
    assert client.get("/other/1").text == "wildcard"
    assert client.get("/api/x").text == "mounted"
    assert client.get("/after-host").text == "after-host"
    assert client.get("/after-host", headers={"host": "special.example"}).text == "host"


def test_index_agrees_with_trying_every_route_in_order() -> None:
    """Compare the router with the naive definition on a mixed table and many paths."""
    import random

    patterns = [
        "/",
        "/a",
        "/a/",
        "/a/{x}",
        "/a/b",
        "/{x}",
        "/{x}/b",
        "/a/{x:int}",
        "/b/{p:path}",
        "/b/c",
        "/c{x}",
        "/c1",
        "/{x}/{y}/{z}",
        "/a/b/c",
    ]
    paths = [
        "/",
        "/a",
        "/a/",
        "/a/b",
        "/a/1",
        "/b",
        "/b/c",
        "/b/c/d",
        "/c1",
        "/c2",
        "/x/b",
        "/a/b/c",
        "/q/r/s",
        "/zz",
        "/a/b/",
    ]
    rng = random.Random(1234)
    for round_number in range(25):
        chosen = rng.sample(patterns, k=rng.randint(3, len(patterns)))
        routes: list[Any] = []
        for index, pattern in enumerate(chosen):
            label = f"r{index}"
            if rng.random() < 0.2:
                routes.append(Mount(pattern.rstrip("/") or "", routes=[Route("/b", named(label))]))
            else:
                routes.append(Route(pattern, named(label), methods=rng.choice([["GET"], ["POST"]])))
        router = Router(routes, redirect_slashes=False)
        client = TestClient(router, follow_redirects=False)
        for path in paths:
            expected = None
            partial = None
            inner_path = ""
            for route in routes:
                scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
                match, child = route.matches(scope)
                if match is Match.FULL:
                    expected = route
                    inner_path = path[len(child.get("root_path", "")) :]
                    break
                if match is Match.PARTIAL and partial is None:
                    partial = route
            response = client.get(path)
            if isinstance(expected, Mount):
                # A matching mount owns the path: its inner router answers, 404 included.
                if inner_path == "/b":
                    assert response.text == expected.routes[0].name, (round_number, chosen, path)
                elif inner_path == "/b/":  # the inner router redirects slashes
                    assert response.status_code == 307, (round_number, chosen, path)
                else:
                    assert response.status_code == 404, (round_number, chosen, path)
            elif expected is not None:
                assert response.status_code == 200, (round_number, chosen, path)
                assert response.text == expected.name, (round_number, chosen, path)
            elif partial is not None:
                assert response.status_code == 405, (round_number, chosen, path)
            else:
                assert response.status_code == 404, (round_number, chosen, path)


def test_exact_path_shortcut_keeps_scope_and_overrides() -> None:
    """The router's shortcut for parameterless routes sets what a full match sets, and steps
    aside for a Route subclass (its own handle()) and for a wrong method."""
    seen: dict[str, Any] = {}

    async def inner(request: Any) -> PlainTextResponse:
        seen["params"] = dict(request.path_params)
        seen["endpoint"] = request.scope["endpoint"]
        return PlainTextResponse("inner")

    class Audited(Route):
        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            seen["audited"] = True
            await super().handle(scope, receive, send)

    app = App(
        routes=[
            Mount("/orgs/{org}", routes=[Route("/home", inner)]),
            Audited("/audited", named("audited")),
            Route("/only-post", named("post"), methods=["POST"]),
        ]
    )
    client = TestClient(app)
    assert client.get("/orgs/acme/home").text == "inner"
    assert seen["params"] == {"org": "acme"}
    assert seen["endpoint"] is inner
    assert client.get("/audited").text == "audited"
    assert seen.get("audited") is True
    response = client.get("/only-post")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_routes_added_after_first_request_are_routed() -> None:
    app = App(routes=[Route("/a", named("a"))])
    client = TestClient(app)
    assert client.get("/b").status_code == 404
    app.routes.append(Route("/b", named("b")))
    assert client.get("/b").text == "b"
    app.add_route("/c/{x}", named("c"))
    assert client.get("/c/1").text == "c"
    app.routes.insert(0, Route("/a", named("first")))
    assert client.get("/a").text == "first"
    del app.routes[0]
    assert client.get("/a").text == "a"
    app.router.routes = [Route("/z", named("z"))]
    assert client.get("/a").status_code == 404
    assert client.get("/z").text == "z"


def test_route_subclass_overriding_matches_is_honoured() -> None:
    class CaseInsensitiveRoute(Route):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            lowered = dict(scope)
            lowered["path"] = scope["path"].lower()
            return super().matches(lowered)

    client = TestClient(App(routes=[CaseInsensitiveRoute("/hello", ok)]))
    assert client.get("/HELLO").text == "ok"


def test_fast_dispatch_sets_the_scope_the_general_path_sets() -> None:
    """Differential: the exact-path shortcut, the inlined parameter conversion and the inlined
    route path all leave the scope exactly as `route.matches()` + `scope.update` would."""
    import anyio

    class Recorder:
        """An ASGI endpoint (not a function, so no request adapter) that keeps its scope."""

        def __init__(self) -> None:
            self.scope: Scope | None = None

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            self.scope = scope

    recorders = [Recorder() for _ in range(6)]
    routes: list[Any] = [
        Route("/static", recorders[0], methods=["GET"]),
        Route("/users/{id:int}", recorders[1], methods=["GET"]),
        Route("/files/{rest:path}", recorders[2], methods=["GET"]),
        Route("/{slug}/{n:float}", recorders[3], methods=["GET"]),
        Route("/only-post", recorders[4], methods=["POST"]),
        Route("/any", recorders[5]),
    ]
    cases = [
        ("GET", "/static", ""),
        ("GET", "/prefix/static", "/prefix"),
        ("GET", "/users/42", ""),
        ("GET", "/files/a/b.txt", ""),
        ("GET", "/x/1.5", ""),
        ("POST", "/any", ""),
        ("GET", "/prefix/users/7", "/prefix"),
    ]
    router = Router(routes)

    async def noop_receive() -> dict[str, Any]:  # pragma: no cover - never awaited
        return {"type": "http.disconnect"}

    async def noop_send(message: dict[str, Any]) -> None:  # pragma: no cover - never called
        return None

    for method, path, root_path in cases:
        base = {
            "type": "http",
            "method": method,
            "path": path,
            "root_path": root_path,
            "path_params": {"outer": "kept"},
        }
        expected = dict(base)
        for route in routes:
            match, child = route.matches(dict(base))
            if match is Match.FULL:
                expected["route"] = route
                expected.update(child)
                break
        else:  # pragma: no cover - every case matches
            raise AssertionError(path)
        # ...and `matches()` agrees with Starlette's definition, from public attributes only.
        route = expected["route"]
        route_path = path[len(root_path) :]
        found = route.path_regex.match(route_path)
        converted = {k: route.param_convertors[k].convert(v) for k, v in found.groupdict().items()}
        assert expected["path_params"] == {"outer": "kept", **converted}, path
        for recorder in recorders:
            recorder.scope = None
        anyio.run(router, dict(base), noop_receive, noop_send)
        got = next(r.scope for r in recorders if r.scope is not None)
        got = {key: value for key, value in got.items() if key != "router"}
        assert got == expected, (method, path)


def test_reassigning_a_routes_pattern_after_the_first_request_reaches_the_index() -> None:
    app = App(routes=[Route("/old", named("moved")), Route("/{x}/{y}", named("wild"))])
    client = TestClient(app)
    assert client.get("/old").text == "moved"
    route = app.routes[0]
    route.path_regex, route.path_format, route.param_convertors = compile_path("/new/{n:int}")
    route.path = "/new/{n:int}"
    assert client.get("/old").status_code == 404
    assert client.get("/new/3").text == "moved"
    assert client.get("/new/x").text == "wild"  # the int convertor rejects it
    mount = Mount("/m", routes=[Route("/a", named("in-mount"))])
    app.routes.insert(0, mount)
    assert client.get("/m/a").text == "in-mount"
    mount.path_regex, mount.path_format, mount.param_convertors = compile_path("/n/{path:path}")
    assert client.get("/n/a").text == "in-mount"
    assert client.get("/m/a").text == "wild"


def test_a_route_shared_by_equal_routers_updates_both_indexes() -> None:
    shared = Route("/old", named("shared"))
    first, second = Router([shared]), Router([shared])
    assert first == second  # equal, yet two indexes to keep current
    clients = [TestClient(first), TestClient(second)]
    assert [client.get("/old").text for client in clients] == ["shared", "shared"]
    shared.path_regex, shared.path_format, shared.param_convertors = compile_path("/new")
    shared.path = "/new"
    assert [client.get("/new").text for client in clients] == ["shared", "shared"]
    assert [client.get("/old").status_code for client in clients] == [404, 404]


def test_an_unhashable_router_subclass_still_tracks_route_changes() -> None:
    class Compared(Router):
        def __eq__(self, other: object) -> bool:  # defining __eq__ alone drops __hash__
            return isinstance(other, Compared) and list(self.routes) == list(other.routes)

    route = Route("/old", named("r"))
    client = TestClient(Compared([route]))
    assert client.get("/old").text == "r"
    route.path_regex, route.path_format, route.param_convertors = compile_path("/new")
    assert client.get("/new").text == "r"


def test_a_copied_route_is_independent_of_the_original() -> None:
    import copy

    route = Route("/p/{n:int}", ok)
    client = TestClient(Router([route]))
    assert client.get("/p/1").text == "ok"  # the router now watches the route
    twin = copy.copy(route)
    assert twin._watchers is None
    twin.path_regex, twin.path_format, twin.param_convertors = compile_path("/q")
    assert TestClient(Router([twin])).get("/q").text == "ok"
    assert client.get("/p/1").text == "ok"  # the original and its router are untouched
    assert route._derived is not None  # not forgotten because of the twin
