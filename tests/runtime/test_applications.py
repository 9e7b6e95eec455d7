from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.exceptions import HTTPException, WebSocketException
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.responses import JSONResponse, PlainTextResponse, Response
from asgiforge.runtime.routing import Host, Mount, Route, Router, WebSocketRoute
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Receive, Scope, Send


class Record:
    """Pure-ASGI middleware appending its name to `scope['trail']` (shows stack order)."""

    def __init__(self, app: Any, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("trail", []).append(self.name)
        await self.app(scope, receive, send)


async def trail(request: Any) -> JSONResponse:
    return JSONResponse(request.scope.get("trail", []))


# --------------------------------------------------------------------------- seed examples


def test_seed_deep_dive_application() -> None:
    async def homepage(request: Any) -> JSONResponse:
        return JSONResponse({"status": "running"})

    async def user_detail(request: Any) -> JSONResponse:
        user_id = request.path_params["user_id"]
        return JSONResponse({"user_id": user_id})

    app = App(
        routes=[
            Route("/", homepage),
            Route("/users/{user_id:int}", user_detail),
        ]
    )
    client = TestClient(app)
    assert client.get("/").json() == {"status": "running"}
    assert client.get("/users/42").json() == {"user_id": 42}
    assert client.get("/users/abc").status_code == 404


def test_seed_list_items() -> None:
    async def list_items(request: Any) -> JSONResponse:
        return JSONResponse([{"name": "item-1", "status": "active"}])

    app = App(routes=[Route("/items", list_items)])
    assert TestClient(app).get("/items").json() == [{"name": "item-1", "status": "active"}]


# --------------------------------------------------------------------------- the stack


def test_user_middleware_runs_in_declared_order_and_add_middleware_wraps_outside() -> None:
    app = App(
        routes=[Route("/", trail)],
        middleware=[Middleware(Record, name="first"), Middleware(Record, name="second")],
    )
    app.add_middleware(Record, name="outer")
    assert TestClient(app).get("/").json() == ["outer", "first", "second"]


def test_middleware_stack_is_built_once() -> None:
    built: list[int] = []

    class Counting(Record):
        def __init__(self, app: Any) -> None:
            built.append(1)
            super().__init__(app, "counting")

    app = App(routes=[Route("/", trail)], middleware=[Middleware(Counting)])
    client = TestClient(app)
    for _ in range(3):
        client.get("/")
    assert built == [1]


def test_add_middleware_after_start_is_refused() -> None:
    app = App(routes=[Route("/", trail)])
    TestClient(app).get("/")
    with pytest.raises(RuntimeError, match="after the application has started"):
        app.add_middleware(Record, name="late")
    with pytest.raises(RuntimeError, match="after the application has started"):
        app.add_exception_handler(404, trail)


def test_middleware_items_are_validated() -> None:
    with pytest.raises(TypeError, match="Middleware"):
        App(middleware=[Record])  # type: ignore[list-item]


def test_scope_app_and_router() -> None:
    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse(
            f"{request.scope['app'] is app} {request.scope['router'] is app.router}"
        )

    app = App(routes=[Route("/", endpoint)])
    assert TestClient(app).get("/").text == "True True"


def test_state_routes_router_and_url_path_for() -> None:
    app = App(routes=[Route("/items/{id:int}", trail, name="item")])
    app.state.counter = 3
    assert app.state.counter == 3
    assert app.routes is app.router.routes
    assert isinstance(app.router, Router)
    assert app.url_path_for("item", id=9) == "/items/9"


def test_add_route_websocket_route_mount_and_host() -> None:
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    async def text(request: Any) -> PlainTextResponse:
        return PlainTextResponse("text")

    app = App()
    app.add_route("/r", text, methods=["GET"], name="r")
    app.add_websocket_route("/ws", ws, name="ws")
    app.mount("/sub", Router([Route("/x", text)]), name="sub")
    app.host("api.example.org", Router([Route("/h", text)]), name="api")
    client = TestClient(app)
    assert client.get("/r").text == "text"
    assert client.get("/sub/x").text == "text"
    assert client.get("/h", headers={"host": "api.example.org"}).text == "text"
    with client.websocket_connect("/ws") as session:
        assert session.receive_text() == "hi"
    assert [type(r) for r in app.routes] == [Route, WebSocketRoute, Mount, Host]


# --------------------------------------------------------------------------- errors


def test_http_exception_detail_status_and_headers() -> None:
    async def endpoint(request: Any) -> Response:
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})

    response = TestClient(App(routes=[Route("/", endpoint)])).get("/")
    assert response.status_code == 401
    assert response.text == "Unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_exception_handlers_by_status_and_by_class() -> None:
    class AppError(Exception):
        pass

    class NotFoundError(AppError):
        pass

    async def raise_app_error(request: Any) -> Response:
        raise NotFoundError("gone")

    async def on_404(request: Any, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"missing": request.url.path}, status_code=404)

    def on_app_error(request: Any, exc: Exception) -> JSONResponse:  # sync handlers are fine
        return JSONResponse({"error": str(exc)}, status_code=400)

    app = App(
        routes=[Route("/boom", raise_app_error)],
        exception_handlers={404: on_404, AppError: on_app_error},
    )
    client = TestClient(app)
    assert client.get("/nope").json() == {"missing": "/nope"}
    response = client.get("/boom")
    assert (response.status_code, response.json()) == (400, {"error": "gone"})


def test_unhandled_error_is_500_and_reraised() -> None:
    async def endpoint(request: Any) -> Response:
        raise ValueError("secret detail")

    app = App(routes=[Route("/", endpoint)])
    with pytest.raises(ValueError, match="secret detail"):
        TestClient(app).get("/")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "secret" not in response.text


def test_500_handler_from_exception_handlers() -> None:
    async def endpoint(request: Any) -> Response:
        raise ValueError("x")

    async def on_500(request: Any, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse(f"custom {type(exc).__name__}", status_code=500)

    for key in (500, Exception):
        app = App(routes=[Route("/", endpoint)], exception_handlers={key: on_500})
        response = TestClient(app, raise_server_exceptions=False).get("/")
        assert response.text == "custom ValueError"


def test_debug_shows_traceback_and_can_be_toggled() -> None:
    async def endpoint(request: Any) -> Response:
        raise ValueError("debug me")

    app = App(debug=True, routes=[Route("/", endpoint)])
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert "ValueError: debug me" in response.text
    assert app.debug is True
    app.debug = False
    assert client.get("/").text == "Internal Server Error"


def test_websocket_exception_closes_with_its_code() -> None:
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        raise WebSocketException(code=1008, reason="policy")

    client = TestClient(App(routes=[WebSocketRoute("/ws", ws)]))
    with client.websocket_connect("/ws") as session:
        message = session.receive()
    assert message == {"type": "websocket.close", "code": 1008, "reason": "policy"}


def test_lifespan_receives_the_app() -> None:
    seen: list[Any] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        seen.append(app)
        yield

    app = App(lifespan=lifespan)
    with TestClient(app):
        pass
    assert seen == [app]


def test_seed_pure_asgi_timing_middleware() -> None:
    import time

    class PureTimingMiddleware:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            start = time.perf_counter()

            async def send_with_timing(message: Any) -> None:
                if message["type"] == "http.response.start":
                    elapsed = time.perf_counter() - start
                    headers = dict(message.get("headers", []))
                    headers[b"x-process-time"] = str(elapsed).encode()
                    message["headers"] = list(headers.items())
                await send(message)

            await self.app(scope, receive, send_with_timing)

    async def homepage(request: Any) -> JSONResponse:
        return JSONResponse({"status": "running"})

    app = App(routes=[Route("/", homepage)], middleware=[Middleware(PureTimingMiddleware)])
    with TestClient(app) as client:  # the lifespan scope passes through the middleware too
        response = client.get("/")
    assert response.json() == {"status": "running"}
    assert float(response.headers["x-process-time"]) >= 0


def test_debug_is_a_plain_attribute_a_subclass_may_set_before_init() -> None:
    async def boom(request: Any) -> Response:
        raise ValueError("from the subclass")

    class Framework(App):
        def __init__(self, *, debug: bool = False) -> None:
            self.debug = debug  # before App.__init__, as frameworks do
            self.extra = "set early"
            super().__init__(debug=debug, routes=[Route("/", boom)])

    app = Framework(debug=True)
    assert "debug" in vars(app)
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert "ValueError: from the subclass" in response.text


def test_a_subclass_that_never_calls_app_init_serves_requests() -> None:
    class Bare(App):
        def __init__(self) -> None:
            self.debug = False
            self.router = Router([Route("/", named_text("bare"))])
            self.exception_handlers = {}
            self.user_middleware = []

    app = Bare()
    assert TestClient(app).get("/").text == "bare"
    assert app.middleware_stack is not None


def named_text(text: str) -> Any:
    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse(text)

    return endpoint
