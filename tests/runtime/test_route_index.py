"""The router's lookup index: it skips only routes that cannot match, so first match wins."""

from __future__ import annotations

from typing import Any

from asgiforge.runtime.applications import App
from asgiforge.runtime.responses import PlainTextResponse
from asgiforge.runtime.routing import Host, Match, Mount, Route, Router
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
