from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from asgiforge.runtime._adapters import request_response, websocket_session
from asgiforge.runtime.applications import App
from asgiforge.runtime.convertors import CONVERTOR_TYPES, PathParamError
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.responses import JSONResponse, PlainTextResponse, Response
from asgiforge.runtime.routing import (
    Host,
    Mount,
    NoMatchFound,
    PathPatternWarning,
    Route,
    Router,
    WebSocketRoute,
    compile_path,
    get_name,
    replace_params,
)
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Receive, Scope, Send


async def ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def echo_params(request: Any) -> JSONResponse:
    return JSONResponse({k: str(v) for k, v in request.path_params.items()})


def named(text: str) -> Any:
    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse(text)

    endpoint.__name__ = text
    return endpoint


# --------------------------------------------------------------------------- construction


def test_starlette_path_helpers_are_importable_from_routing() -> None:
    from asgiforge.runtime import _paths, routing

    assert compile_path is _paths.compile_path
    assert replace_params is _paths.replace_params
    assert routing.PARAM_REGEX is _paths.PARAM_REGEX


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("users", "must start with '/'"),
        ("/x/{id:nope}", "Unknown path convertor 'nope'"),
        ("/x/{id}/{id}", "Duplicated param name id at path /x/{id}/{id}"),
    ],
)
def test_route_construction_errors_are_clear(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Route(path, ok)


@pytest.mark.parametrize("path", ["/x/{user-id}", "/x/{id", "/x/}"])
def test_braces_that_are_not_a_parameter_are_literal_text_with_a_warning(path: str) -> None:
    with pytest.warns(PathPatternWarning, match="not a path parameter") as caught:
        route = Route(path, ok)
    assert caught[0].filename == __file__  # points at the line that built the route
    client = TestClient(App(routes=[route]))
    assert client.get(path).text == "ok"
    assert client.get("/x/1").status_code == 404
    assert route.url_path_for("ok") == path


def test_openapi_runtime_expressions_stay_literal_without_a_warning() -> None:
    # How frameworks declare OpenAPI callbacks; Starlette keeps the braces as text. (A warning
    # would fail this test: our pytest configuration turns warnings into errors.)
    route = Route("/cb/{$callback_url}/invoices/{id}", ok)
    assert route.param_convertors.keys() == {"id"}
    assert route.url_path_for("ok", id="7") == "/cb/{$callback_url}/invoices/7"


def test_mount_needs_leading_slash_and_an_app() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        Mount("api", routes=[])
    with pytest.raises(ValueError, match="either app"):
        Mount("/api")
    with pytest.raises(ValueError, match="not both"):
        Mount("/api", app=ok, routes=[])


def test_duplicate_names_are_accepted_and_url_path_for_takes_the_first_that_fits() -> None:
    # As in Starlette (`asgiforge routes --check` warns about them instead).
    router = Router([Route("/a", ok, name="items"), Route("/b/{id}", ok, name="items")])
    router.add_route("/c", ok, name="items")
    app = App(routes=[*router.routes])
    assert app.url_path_for("items") == "/a"
    assert app.url_path_for("items", id=3) == "/b/3"
    assert TestClient(app).get("/c").text == "ok"


def test_same_name_same_path_is_fine() -> None:
    router = Router(
        [
            Route("/items", ok, methods=["GET"], name="items"),
            Route("/items", ok, methods=["POST"], name="items"),
            Route("/c", ok),  # implicit names may repeat
            Route("/d", ok),
        ]
    )
    assert router.url_path_for("items") == "/items"


def test_get_name() -> None:
    class Endpoint:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    assert get_name(ok) == "ok"
    assert get_name(Endpoint) == "Endpoint"
    assert get_name(Endpoint()) == "Endpoint"


# --------------------------------------------------------------------------- dispatch


def test_path_params_and_conversion() -> None:
    app = App(
        routes=[
            Route("/users/{user_id:int}", echo_params),
            Route("/f/{value:float}", echo_params),
            Route("/u/{value:uuid}", echo_params),
            Route("/files/{rest:path}", echo_params),
        ]
    )
    client = TestClient(app)
    assert client.get("/users/42").json() == {"user_id": "42"}
    assert client.get("/users/abc").status_code == 404
    assert client.get("/f/1.5").json() == {"value": "1.5"}
    uid = uuid.uuid4()
    assert client.get(f"/u/{uid}").json() == {"value": str(uid)}
    assert client.get("/files/a/b/c.txt").json() == {"rest": "a/b/c.txt"}


def test_trailing_newline_does_not_match() -> None:
    app = Router([Route("/users/{id:int}", echo_params), Route("/static", ok)])
    client = TestClient(app)
    assert client.get("/users/1%0A").status_code == 404
    assert client.get("/static%0A").status_code == 404


def test_not_found_and_method_not_allowed_inside_app() -> None:
    app = App(routes=[Route("/items", ok, methods=["POST", "PUT"])])
    client = TestClient(app)
    assert client.get("/nothing").status_code == 404
    assert client.get("/nothing").text == "Not Found"
    response = client.get("/items")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    assert response.headers["allow"] == "POST, PUT"


def test_bare_router_answers_404_and_405_itself() -> None:
    client = TestClient(Router([Route("/items", ok, methods=["POST"])]))
    response = client.get("/missing")
    assert (response.status_code, response.text) == (404, "Not Found")
    response = client.delete("/items")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_405_is_rendered_by_custom_handler() -> None:
    async def handler(request: Any, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.status_code}, exc.status_code, headers=exc.headers)

    app = App(routes=[Route("/", ok)], exception_handlers={405: handler})
    response = TestClient(app).post("/")
    assert response.json() == {"error": 405}
    assert response.headers["allow"] == "GET, HEAD"


def test_head_is_served_by_get_routes_without_body() -> None:
    client = TestClient(App(routes=[Route("/", ok)]))
    response = client.head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "2"


def test_methods_must_be_a_list_not_a_string() -> None:
    with pytest.raises(TypeError, match="methods must be a list"):
        Route("/", ok, methods="GET")


def test_first_match_wins_between_static_and_dynamic_routes() -> None:
    app = App(
        routes=[
            Route("/users/{name}", named("dynamic")),
            Route("/users/me", named("static")),
            Route("/pages/about", named("about")),
            Route("/pages/{name}", named("page")),
        ]
    )
    client = TestClient(app)
    assert client.get("/users/me").text == "dynamic"
    assert client.get("/pages/about").text == "about"
    assert client.get("/pages/other").text == "page"


def test_partial_match_yields_to_a_later_full_match() -> None:
    app = App(
        routes=[
            Route("/things", named("post"), methods=["POST"]),
            Route("/{anything}", named("catch-all")),
        ]
    )
    client = TestClient(app)
    assert client.get("/things").text == "catch-all"
    assert client.post("/things").text == "post"


def test_uuid_parameters_accept_either_case_and_no_hyphens_as_in_starlette() -> None:
    client = TestClient(App(routes=[Route("/u/{value:uuid}", echo_params)]))
    value = uuid.uuid4()
    for text in (str(value).upper(), value.hex, value.hex.upper()):
        assert client.get("/u/" + text).json() == {"value": str(value)}
    assert client.get("/u/" + value.hex[:-1]).status_code == 404


def test_class_endpoint_is_an_asgi_app() -> None:
    class Raw:
        def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
            self.scope, self.receive, self.send = scope, receive, send

        def __await__(self) -> Any:
            return PlainTextResponse("raw")(self.scope, self.receive, self.send).__await__()

    client = TestClient(App(routes=[Route("/", Raw)]))
    # A class endpoint takes every method: it decides itself.
    assert client.post("/").text == "raw"


def test_scope_values_set_by_routing() -> None:
    seen: dict[str, Any] = {}

    async def endpoint(request: Any) -> Response:
        seen.update(request.scope)
        return Response()

    app = App(routes=[Mount("/api/{version}", routes=[Route("/items/{id:int}", endpoint)])])
    TestClient(app).get("/api/v1/items/3")
    assert seen["endpoint"] is endpoint
    assert seen["path_params"] == {"version": "v1", "id": 3}
    assert seen["root_path"] == "/api/v1"
    assert seen["app_root_path"] == ""
    assert seen["app"] is app
    assert seen["router"] is app.router


@pytest.mark.anyio
async def test_root_path_from_the_server_is_stripped_before_matching() -> None:
    # ASGI servers started with a root path send the full path plus `root_path`.
    seen: dict[str, Any] = {}

    async def endpoint(request: Any) -> Response:
        seen["root_path"] = request.scope["root_path"]
        return Response("hit")

    messages: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        messages.append(message)

    app = App(routes=[Route("/items", endpoint)])
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/prefix/items",
        "root_path": "/prefix",
        "headers": [],
        "query_string": b"",
    }
    await app(scope, receive, send)
    assert messages[0]["status"] == 200
    assert seen["root_path"] == "/prefix"


# --------------------------------------------------------------------------- redirect_slashes


def test_redirect_slashes_both_ways_keeps_query() -> None:
    app = App(routes=[Route("/with/", named("with")), Route("/without", named("without"))])
    client = TestClient(app, follow_redirects=False)
    response = client.get("/with?x=1")
    assert response.status_code == 307
    assert response.headers["location"] == "/with/?x=1"
    response = client.get("/without/")
    assert response.headers["location"] == "/without"
    assert TestClient(app).get("/with").text == "with"


def test_redirect_location_never_uses_the_host_header() -> None:
    app = App(routes=[Route("/page", ok)])
    client = TestClient(app, follow_redirects=False)
    response = client.get("/page/", headers={"host": "evil.example"})
    assert response.headers["location"] == "/page"


@pytest.mark.anyio
async def test_redirect_location_is_never_protocol_relative() -> None:
    app = App(routes=[Route("/{path:path}/x", ok)])
    messages: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "//evil.com/x/",
        "headers": [(b"host", b"good.example")],
        "query_string": b"",
    }
    await app(scope, receive, send)
    assert messages[0]["status"] == 307
    location = dict(messages[0]["headers"])[b"location"]
    assert location == b"/evil.com/x"


def test_redirect_location_escapes_control_characters() -> None:
    app = App(routes=[Route("/{name}", ok)])
    client = TestClient(app, follow_redirects=False)
    response = client.get("/a%0d%0aSet-Cookie:%20x=1/")
    assert response.status_code == 307
    assert response.headers["location"] == "/a%0D%0ASet-Cookie:%20x=1"
    assert "set-cookie" not in response.headers


def test_redirect_slashes_can_be_disabled() -> None:
    router = Router([Route("/page", ok)], redirect_slashes=False)
    assert TestClient(router).get("/page/").status_code == 404


def test_redirect_inside_a_mount_keeps_the_prefix() -> None:
    app = App(routes=[Mount("/api", routes=[Route("/items", ok)])])
    client = TestClient(app, follow_redirects=False)
    assert client.get("/api/items/").headers["location"] == "/api/items"


# --------------------------------------------------------------------------- middleware


class TagMiddleware:
    """Adds `x-tag` to responses so tests can see which middleware wrapped them."""

    def __init__(self, app: Any, tag: str) -> None:
        self.app = app
        self.tag = tag.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-tag", self.tag)]
            await send(message)

        await self.app(scope, receive, tagged)


def test_route_middleware_sees_error_responses_from_handlers() -> None:
    async def boom(request: Any) -> Response:
        raise HTTPException(409, "conflict")

    app = App(routes=[Route("/", boom, middleware=[Middleware(TagMiddleware, tag="route")])])
    response = TestClient(app).get("/")
    assert response.status_code == 409
    assert response.text == "conflict"
    assert response.headers["x-tag"] == "route"


def test_mount_and_router_middleware() -> None:
    app = App(
        routes=[
            Mount(
                "/m",
                routes=[Route("/x", ok)],
                middleware=[Middleware(TagMiddleware, tag="mount")],
            ),
            Route("/y", ok),
        ]
    )
    client = TestClient(app)
    assert client.get("/m/x").headers["x-tag"] == "mount"
    assert "x-tag" not in client.get("/y").headers
    router = Router([Route("/", ok)], middleware=[Middleware(TagMiddleware, tag="router")])
    assert TestClient(router).get("/").headers["x-tag"] == "router"


# --------------------------------------------------------------------------- mounts and hosts


def test_mount_app_sees_remaining_path() -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"path": scope["path"], "root_path": scope["root_path"]})
        await response(scope, receive, send)

    client = TestClient(App(routes=[Mount("/static", app=raw)]))
    assert client.get("/static/css/site.css").json() == {
        "path": "/static/css/site.css",
        "root_path": "/static",
    }
    assert client.get("/staticx").status_code == 404


def test_nested_mounts_and_url_path_for() -> None:
    users = Router([Route("/{id:int}", echo_params, name="detail")])
    app = App(
        routes=[
            Mount(
                "/api/{version}",
                name="api",
                routes=[Mount("/users", app=users, name="users")],
            ),
            Mount("/static", app=ok, name="static"),
        ]
    )
    assert app.url_path_for("api:users:detail", version="v2", id=7) == "/api/v2/users/7"
    assert app.url_path_for("static", path="/css/a.css") == "/static/css/a.css"
    client = TestClient(app)
    assert client.get("/api/v2/users/7").json() == {"version": "v2", "id": "7"}


def test_mount_at_root() -> None:
    app = App(routes=[Mount("", routes=[Route("/x", named("x"))], name="root")])
    assert TestClient(app).get("/x").text == "x"
    assert app.url_path_for("root:x") == "/x"


def test_host_routing_and_url_path_for() -> None:
    api = Router([Route("/users", named("users"), name="users")])
    app = App(
        routes=[
            Host("{sub}.example.org", app=api, name="sub"),
            Route("/", named("fallback")),
        ]
    )
    client = TestClient(app)
    assert client.get("/users", headers={"host": "api.example.org:8000"}).text == "users"
    assert client.get("/users", headers={"host": "API.Example.org"}).text == "users"
    assert client.get("/", headers={"host": "other.org"}).text == "fallback"
    url = app.url_path_for("sub:users", sub="api")
    assert url == "/users"
    assert url.host == "api.example.org"


def test_host_endpoint_sees_host_path_params() -> None:
    app = App(routes=[Host("{tenant}.example.org", app=Router([Route("/", echo_params)]))])
    response = TestClient(app).get("/", headers={"host": "acme.example.org"})
    assert response.json() == {"tenant": "acme"}


# --------------------------------------------------------------------------- url_path_for


def test_url_path_for_and_no_match_found() -> None:
    app = App(
        routes=[
            Route("/users/{id:int}", ok, name="user"),
            WebSocketRoute("/ws/{room}", ok, name="ws"),
        ]
    )
    assert app.url_path_for("user", id=5) == "/users/5"
    assert app.url_path_for("user", id=5).protocol == "http"
    assert app.url_path_for("ws", room="a").protocol == "websocket"
    with pytest.raises(NoMatchFound, match='name "missing"'):
        app.url_path_for("missing")
    with pytest.raises(NoMatchFound, match="take params: id") as info:
        app.url_path_for("user", wrong=1)
    assert info.value.name == "user"
    assert info.value.path_params == {"wrong": 1}


def test_url_path_for_refuses_values_a_convertor_cannot_render() -> None:
    app = App(routes=[Route("/users/{name}", ok, name="user"), Route("/n/{n:int}", ok, name="n")])
    with pytest.raises(ValueError, match="cannot contain '/'"):
        app.url_path_for("user", name="a/b")
    with pytest.raises(ValueError, match="negative"):
        app.url_path_for("n", n=-1)


def test_request_url_for() -> None:
    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse(str(request.url_for("user", id=3)))

    app = App(routes=[Route("/users/{id:int}", endpoint, name="user")])
    assert TestClient(app).get("/users/1").text == "http://testserver/users/3"


# --------------------------------------------------------------------------- websockets


def test_websocket_route_and_404_close() -> None:
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_json(websocket.path_params)
        await websocket.close()

    app = App(routes=[WebSocketRoute("/ws/{room}", ws), Route("/ws/{room}", ok)])
    client = TestClient(app)
    with client.websocket_connect("/ws/lobby") as session:
        assert session.receive_json() == {"room": "lobby"}
    assert client.get("/ws/lobby").text == "ok"
    with pytest.raises(Exception) as info, client.websocket_connect("/nope"):
        pass
    assert getattr(info.value, "code", None) == 1000


# --------------------------------------------------------------------------- standalone routes


@pytest.mark.anyio
async def test_route_used_as_an_asgi_app_on_its_own() -> None:
    route = Route("/hello", ok)
    messages: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        messages.append(message)

    scope = {"type": "http", "method": "GET", "path": "/other", "headers": []}
    await route(scope, receive, send)
    assert messages[0]["status"] == 404
    messages.clear()
    scope = {"type": "http", "method": "GET", "path": "/hello", "headers": [], "query_string": b""}
    await route(scope, receive, send)
    assert messages[0]["status"] == 200


@pytest.mark.anyio
async def test_router_rejects_unknown_scope_types() -> None:
    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None:
        return None

    with pytest.raises(RuntimeError, match="scope type 'weird'"):
        await Router()({"type": "weird"}, receive, send)


# --------------------------------------------------------------------------- describe


def test_describe_flattens_mounts_and_names() -> None:
    class FakeStatic:
        def lookup_path(self, path: str) -> None: ...

        def get_response(self, path: str, scope: Scope) -> None: ...

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    async def raw(scope: Scope, receive: Receive, send: Send) -> None: ...

    app = App(
        routes=[
            Route("/", ok, methods=["GET", "POST"]),
            WebSocketRoute("/ws", ok),
            Mount("/api", name="api", routes=[Route("/users/{id:int}", ok, name="user")]),
            Mount("/static", app=FakeStatic(), name="static"),
            Mount("/raw", app=raw),
            Host("admin.example.org", app=Router([Route("/", ok, name="admin")])),
        ]
    )
    rows = [(r.kind, r.path, r.name, r.methods, r.host) for r in app.describe()]
    assert rows == [
        ("http", "/", "ok", ("GET", "HEAD", "POST"), None),
        ("websocket", "/ws", "ok", (), None),
        ("mount", "/api", "api", (), None),
        ("http", "/api/users/{id:int}", "api:user", ("GET", "HEAD"), None),
        ("static", "/static", "static", (), None),
        ("asgi", "/raw", None, (), None),
        ("host", "/", None, (), "admin.example.org"),
        ("http", "/", "admin", ("GET", "HEAD"), "admin.example.org"),
    ]
    first = next(iter(app.describe()))
    assert first.endpoint is not None and first.endpoint.endswith(".ok")
    assert first.file is not None and first.file.endswith("test_routing.py")
    assert first.line is not None


def test_route_equality_and_repr() -> None:
    assert Route("/", ok) == Route("/", ok)
    assert Route("/", ok) != Route("/", ok, methods=["POST"])
    assert repr(Route("/", ok)) == "Route(path='/', name='ok', methods=['GET', 'HEAD'])"
    assert Mount("/m", app=ok) == Mount("/m", app=ok)


def test_url_path_for_through_a_mount_needs_the_mounts_own_parameters() -> None:
    async def user(request: Any) -> Any:  # pragma: no cover - never called
        return None

    router = Router(
        [Mount("/org/{org}", routes=[Route("/u/{id:int}", user, name="user")], name="org")]
    )
    assert router.url_path_for("org:user", org="acme", id=1) == "/org/acme/u/1"
    # A missing parameter of the mount stays a placeholder, as in Starlette.
    assert router.url_path_for("org:user", id=1) == "/org/{org}/u/1"


def test_router_app_hands_back_the_routes_awaitable_instead_of_a_frame_of_its_own() -> None:
    """Dispatch costs no coroutine per request/socket: the matched handler's awaitable is it."""
    from asgiforge.runtime.responses import PlainTextResponse as _Plain

    async def hello(request: Any) -> Any:
        return _Plain("hi")

    router = Router([Route("/hello", hello)])
    scope = {"type": "http", "method": "GET", "path": "/hello", "root_path": "", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        pass

    pending = router.app(scope, receive, send)
    assert pending.cr_code is not Router.app.__code__  # type: ignore[attr-defined]
    assert pending.cr_code is router.routes[0].app.__code__  # type: ignore[attr-defined]
    pending.close()  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="cannot handle ASGI scope type 'mystery'"):
        router.app({"type": "mystery"}, receive, send)


# --------------------------------------------------------------------------- subclasses
# Frameworks built on Starlette subclass the route classes with an `__init__` of their own that
# sets only the public attributes, never calling ours, and reassign attributes later.


class FrameworkRoute(Route):
    def __init__(self, path: str, endpoint: Any, *, methods: list[str] | None = None) -> None:
        self.path = path
        self.endpoint = endpoint
        self.name = endpoint.__name__
        self.include_in_schema = True
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.methods = {m.upper() for m in methods or ["GET"]}
        self.app = request_response(endpoint)


class FrameworkWebSocketRoute(WebSocketRoute):
    def __init__(self, path: str, endpoint: Any) -> None:
        self.path = path
        self.endpoint = endpoint
        self.name = endpoint.__name__
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.app = websocket_session(endpoint)


class FrameworkMount(Mount):
    def __init__(self, path: str, app: Any, name: str | None = None) -> None:
        self.path = path
        self.app = app
        self.name = name
        self.path_regex, self.path_format, self.param_convertors = compile_path(
            path + "/{path:path}"
        )


class FrameworkHost(Host):
    def __init__(self, host: str, app: Any) -> None:
        self.host = host
        self.app = app
        self.name = None
        self.host_regex, self.host_format, self.param_convertors = compile_path(host)


class FrameworkRouter(Router):
    def __init__(self, routes: list[Any]) -> None:
        self.routes = routes
        self.redirect_slashes = True
        self.default = self.not_found
        self.lifespan_context = None  # type: ignore[assignment]
        self.middleware_stack = self.app


def test_route_subclasses_that_never_call_our_init_work_on_their_first_request() -> None:
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.path_params["room"])
        await websocket.close()

    inner = FrameworkRouter([FrameworkRoute("/deep/{n:int}", echo_params)])
    app = App(
        routes=[
            FrameworkRoute("/static", named("static")),
            FrameworkRoute("/items/{id:int}", echo_params, methods=["POST"]),
            FrameworkWebSocketRoute("/ws/{room}", ws),
            FrameworkMount("/m/{org}", app=inner, name="m"),
            FrameworkHost("{sub}.example.org", app=Router([Route("/h", echo_params)])),
        ]
    )
    client = TestClient(app)
    assert client.get("/static").text == "static"
    assert client.post("/items/5").json() == {"id": "5"}
    response = client.get("/items/5")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    with client.websocket_connect("/ws/lobby") as websocket:
        assert websocket.receive_text() == "lobby"
    assert client.get("/m/acme/deep/3").json() == {"org": "acme", "n": "3"}
    assert client.get("/h", headers={"host": "API.example.org"}).json() == {"sub": "api"}
    assert app.url_path_for("m:echo_params", org="acme", n=3) == "/m/acme/deep/3"
    assert [row.path for row in app.router.describe()][:2] == ["/static", "/items/{id:int}"]


def test_public_attributes_assigned_after_start_take_effect() -> None:
    route = Route("/r/{n:int}", echo_params)
    app = App(routes=[route])
    client = TestClient(app)
    assert client.get("/r/1").json() == {"n": "1"}
    route.methods = {"POST"}
    assert client.get("/r/1").status_code == 405
    assert client.post("/r/1").json() == {"n": "1"}
    route.methods = None
    route.app = request_response(named("swapped"))
    assert client.get("/r/1").text == "swapped"
    route.param_convertors = {"n": CONVERTOR_TYPES["str"]}
    route.path_regex = re.compile("^/r/(?P<n>[a-z]+)$")
    assert client.get("/r/abc").text == "swapped"
    assert client.get("/r/1").status_code == 404
    host = Host("a.example", app=Router([Route("/", echo_params)]))
    app.routes.insert(0, host)
    assert client.get("/", headers={"host": "a.example"}).json() == {}
    host.host_regex, host.host_format, host.param_convertors = compile_path("{x}.example")
    assert client.get("/", headers={"host": "b.example"}).json() == {"x": "b"}


def test_empty_methods_accept_every_method_as_in_starlette() -> None:
    client = TestClient(App(routes=[Route("/e", named("any"), methods=[])]))
    assert client.get("/e").text == "any"
    assert client.request("QUERY", "/e").text == "any"


def test_query_method_routes() -> None:
    client = TestClient(App(routes=[Route("/search", named("search"), methods=["query"])]))
    assert client.request("QUERY", "/search").text == "search"
    response = client.get("/search")
    assert response.status_code == 405
    assert response.headers["allow"] == "QUERY"


def test_matched_route_is_in_the_scope() -> None:
    seen: list[Any] = []

    async def endpoint(request: Any) -> PlainTextResponse:
        seen.append(request.scope["route"])
        return PlainTextResponse("ok")

    static, dynamic = Route("/s", endpoint), Route("/d/{x}", endpoint)
    post_only = Route("/p", endpoint, methods=["POST"])
    inner = Route("/i", endpoint)
    client = TestClient(App(routes=[static, dynamic, post_only, Mount("/m", routes=[inner])]))
    client.get("/s")
    client.get("/d/1")
    client.post("/p")
    client.get("/m/i")
    assert seen == [static, dynamic, post_only, inner]


def test_host_routing_parses_the_host_header() -> None:
    app = Router(
        [
            Host("api.Example.org", app=PlainTextResponse("api")),
            Host("[::1]", app=PlainTextResponse("v6")),
            Host("[2001:db8::1]", app=PlainTextResponse("doc")),
        ]
    )
    client = TestClient(app)
    for host, expected in [
        ("API.example.ORG", "api"),
        ("api.example.org:8080", "api"),
        ("[::1]:8000", "v6"),
        ("[2001:DB8::1]", "doc"),
    ]:
        assert client.get("/", headers={"host": host}).text == expected, host
    for hostile in ["api.example.org:evil", "[:::]", "api.example.org/x", "a b", ""]:
        assert client.get("/", headers={"host": hostile}).status_code == 404, hostile


def test_url_paths_never_start_with_two_slashes_or_hold_a_backslash() -> None:
    router = Router([Route("/{p:path}", ok, name="any"), Mount("/m", ok, name="m")])
    assert router.url_path_for("any", p="/evil.example/x") == "/%2Fevil.example/x"
    assert router.url_path_for("any", p="\\evil.example") == "/%5Cevil.example"
    assert router.url_path_for("m", path="/x") == "/m/x"


def test_url_path_for_fills_each_placeholder_once() -> None:
    route = Route("/{category}/{id}", ok, name="r")
    assert route.url_path_for("r", category="{id}", id="42") == "/{id}/42"


def test_unrenderable_values_raise_a_value_error_that_starlette_code_can_catch() -> None:
    router = Router([Route("/u/{name}", ok, name="u")])
    with pytest.raises(ValueError, match="cannot contain '/'") as info:
        router.url_path_for("u", name="a/b")
    assert isinstance(info.value, AssertionError)  # what Starlette raises (an assert)
    assert isinstance(info.value, PathParamError)


def test_reprs_show_an_unnamed_group_with_an_empty_name() -> None:
    assert repr(Mount("/app", ok)).startswith("Mount(path='/app', name='', app=")
    assert repr(Host("h.example", ok)).startswith("Host(host='h.example', name='', app=")


def test_a_trailing_newline_is_not_the_same_path() -> None:
    client = TestClient(App(routes=[Route("/users", ok), Route("/n/{n:int}", ok)]))
    assert client.get("/users").text == "ok"
    assert client.get("/users%0A").status_code == 404
    assert client.get("/n/1%0A").status_code == 404


def test_no_match_found_names_the_params_in_the_order_given() -> None:
    message = 'No route exists for name "x" and params "b, a".'
    with pytest.raises(NoMatchFound, match=re.escape(message)):
        Router([]).url_path_for("x", b=1, a=2)


def test_a_mounts_routes_is_the_mounted_routers_own_list() -> None:
    mount = Mount("/m", routes=[Route("/a", named("a"))])
    host = Host("h.example", app=Router([Route("/a", named("ha"))]))
    client = TestClient(App(routes=[mount, host]))
    assert client.get("/m/b").status_code == 404
    mount.routes.append(Route("/b", named("b")))
    host.routes.append(Route("/b", named("hb")))
    assert client.get("/m/b").text == "b"
    assert client.get("/b", headers={"host": "h.example"}).text == "hb"
