"""Every code example in ../shared/seeds/, run with only its imports changed to asgiforge.runtime.

Each example is kept as source text, exactly as the seed prints it except for the import lines
(`starlette.X` -> `asgiforge.runtime.X`, `Starlette` -> `App`), and executed. What the seeds
leave undefined (`process`, `notification_service`, `create_db_pool`, ...) is injected as small
fakes; the only other edits are marked where they occur (a `routes=[...]` placeholder, and the
`uvicorn.run` host/port, since tests bind 127.0.0.1 on a free port).
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.servers import free_port, kill_group, serve_in_thread, spawn, wait_for_port


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True


def needs(*modules: str) -> pytest.MarkDecorator:
    missing = [m for m in modules if _missing(m)]
    return pytest.mark.skipif(bool(missing), reason=f"not landed yet: {', '.join(missing)}")


def run_seed(source: str, **fakes: Any) -> dict[str, Any]:
    """Execute one seed example; returns its namespace. `fakes` stand in for its undefined names."""
    namespace: dict[str, Any] = {"__name__": "seed_example", **fakes}
    exec(compile(textwrap.dedent(source), "<seed example>", "exec"), namespace)
    return namespace


# --------------------------------------------------------------------------- the seeds' sources

CORE_APP = """
from asgiforge.runtime.applications import App
from asgiforge.runtime.routing import Route
from asgiforge.runtime.responses import JSONResponse
async def homepage(request):
    return JSONResponse({"status": "running"})
async def user_detail(request):
    user_id = request.path_params["user_id"]
    return JSONResponse({"user_id": user_id})
app = App(routes=[
    Route("/", homepage),
    Route("/users/{user_id:int}", user_detail),
])
"""

TIMING_MIDDLEWARE = """
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.base import BaseHTTPMiddleware
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import Response
import time
class TimingMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - start
        response.headers["X-Process-Time"] = f"{elapsed:.4f}"
        return response
"""

PURE_TIMING_MIDDLEWARE = """
class PureTimingMiddleware:
    def __init__(self, app):
        self.app = app
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        async def send_with_timing(message):
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - start
                headers = dict(message.get("headers", []))
                headers[b"x-process-time"] = str(elapsed).encode()
                message["headers"] = list(headers.items())
            await send(message)
        await self.app(scope, receive, send_with_timing)
"""

MOUNT_APP = """
from asgiforge.runtime.routing import Mount, Route
from asgiforge.runtime.staticfiles import StaticFiles
api_routes = [
    Route("/users", list_users),
    Route("/users/{user_id:int}", get_user),
]
app = App(routes=[
    Route("/", homepage),
    Mount("/api/v1", routes=api_routes),
    Mount("/static", app=StaticFiles(directory="static")),
])
"""

WEBSOCKET_APP = """
from asgiforge.runtime.routing import WebSocketRoute
from asgiforge.runtime.websockets import WebSocket
async def ws_endpoint(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            data = await websocket.receive_json()
            result = process(data)
            await websocket.send_json({"result": result})
    except Exception:
        await websocket.close(code=1011)
app = App(routes=[
    WebSocketRoute("/ws", ws_endpoint),
])
"""

BACKGROUND_TASK = """
from asgiforge.runtime.background import BackgroundTask
from asgiforge.runtime.responses import JSONResponse
async def send_notification(user_id: int, message: str):
    # This runs after the response is delivered
    await notification_service.send(user_id, message)
async def create_order(request):
    order = await process_order(request)
    task = BackgroundTask(send_notification, order.user_id, "Order confirmed")
    return JSONResponse({"order_id": order.id}, background=task)
"""

# Edit: the seed's `routes=[...]` placeholder is given as `routes=routes`.
LIFESPAN = """
from contextlib import asynccontextmanager
@asynccontextmanager
async def lifespan(app):
    # Startup: initialize connection pools, load ML models, etc.
    pool = await create_db_pool()
    app.state.db = pool
    yield
    # Shutdown: clean up resources
    await pool.close()
app = App(lifespan=lifespan, routes=routes)
"""

TESTCLIENT_TESTS = """
from asgiforge.runtime.testclient import TestClient
def test_homepage():
    client = TestClient(app)
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"status": "running"}
def test_websocket():
    client = TestClient(app)
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"action": "ping"})
        data = ws.receive_json()
        assert data["result"] == "pong"
"""

ASYNC_CLIENT_TEST = """
from asgiforge.runtime import testclient as httpx
import pytest
@pytest.mark.anyio
async def test_homepage_async():
    async with httpx.AsyncClient(app=app, base_url="http://test") as client:
        response = await client.get("/")
        assert response.status_code == 200
"""

# Edit: host='0.0.0.0', port=8000 become 127.0.0.1 and a free port (tests never bind wildcard).
UVICORN_RUN = """
from asgiforge.runtime.applications import App
from asgiforge.runtime.routing import Route
from asgiforge.runtime.responses import JSONResponse
import uvicorn
async def list_items(request):
    return JSONResponse([{'name': 'item-1', 'status': 'active'}])
app = App(routes=[Route('/items', list_items)])
if __name__ == '__main__':
    uvicorn.run(app, host='0.0.0.0', port=8000)
"""

SSE_STREAM = """
from asgiforge.runtime.responses import StreamingResponse
import asyncio
async def stream_response(request):
    async def generate():
        for i in range(10):
            yield f'data: chunk {i}\\n\\n'
            await asyncio.sleep(0.1)
        yield 'data: [DONE]\\n\\n'
    return StreamingResponse(
        generate(),
        media_type='text/event-stream'
    )
"""

APP_MODULES = (
    "asgiforge.runtime.applications",
    "asgiforge.runtime.routing",
    "asgiforge.runtime.responses",
)


# --------------------------------------------------------------------------- fakes


def process(data: dict[str, Any]) -> Any:
    """The WebSocket example's undefined `process`: ping -> pong, anything else echoed."""
    if data.get("action") == "ping":
        return "pong"
    return data


class FakePool:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def core_app() -> Any:
    return run_seed(CORE_APP)


def app_with_websocket() -> Any:
    """The core routes plus the seed's /ws route: what the seed's two TestClient tests target."""
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.routing import Route, WebSocketRoute

    core = core_app()
    ws = run_seed(WEBSOCKET_APP, App=App, process=process)
    return App(
        routes=[
            Route("/", core["homepage"]),
            Route("/users/{user_id:int}", core["user_detail"]),
            WebSocketRoute("/ws", ws["ws_endpoint"]),
        ]
    )


# --------------------------------------------------------------------------- the examples


@needs(*APP_MODULES, "asgiforge.runtime.testclient")
def test_core_app_routes_and_int_convertor() -> None:
    from asgiforge.runtime.testclient import TestClient

    client = TestClient(core_app()["app"])
    assert client.get("/").json() == {"status": "running"}
    response = client.get("/users/42")
    assert response.json() == {"user_id": 42}  # converted to int, not "42"
    assert client.get("/users/abc").status_code == 404


@needs(*APP_MODULES, "asgiforge.runtime.middleware.base", "asgiforge.runtime.middleware")
def test_timing_middleware_base_http() -> None:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.testclient import TestClient

    ns = run_seed(TIMING_MIDDLEWARE)
    core = core_app()
    app = App(routes=core["app"].routes, middleware=[ns["Middleware"](ns["TimingMiddleware"])])
    response = TestClient(app).get("/users/7")
    assert response.json() == {"user_id": 7}
    header = response.headers["x-process-time"]
    assert len(header.split(".")[1]) == 4
    assert float(header) >= 0


@needs(*APP_MODULES)
def test_pure_timing_middleware_keeps_streaming() -> None:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.middleware import Middleware
    from asgiforge.runtime.responses import StreamingResponse
    from asgiforge.runtime.routing import Route
    from asgiforge.runtime.testclient import TestClient

    ns = run_seed(PURE_TIMING_MIDDLEWARE, time=time)
    first_seen = threading.Event()

    async def stream(request: Any) -> Any:
        async def body() -> Any:
            yield b"first;"
            seen = await anyio.to_thread.run_sync(first_seen.wait, 5.0)
            yield b"after" if seen else b"buffered"

        return StreamingResponse(body())

    core = core_app()
    app = App(
        routes=[*core["app"].routes, Route("/stream", stream)],
        middleware=[Middleware(ns["PureTimingMiddleware"])],
    )
    client = TestClient(app)
    assert float(client.get("/").headers["x-process-time"]) >= 0
    with client.stream("GET", "/stream") as response:
        assert "x-process-time" in response.headers
        chunks = response.iter_bytes()
        assert next(chunks) == b"first;"
        first_seen.set()
        assert b"".join(chunks) == b"after"


@needs(*APP_MODULES, "asgiforge.runtime.staticfiles")
def test_mount_and_static_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from asgiforge.runtime._utils import get_route_path
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.responses import JSONResponse
    from asgiforge.runtime.testclient import TestClient

    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "hello.txt").write_text("hello static")
    (tmp_path / "secret.txt").write_text("secret")
    monkeypatch.chdir(tmp_path)

    async def list_users(request: Any) -> Any:
        return JSONResponse({"users": ["ada"], "route": get_route_path(request.scope)})

    async def get_user(request: Any) -> Any:
        return JSONResponse({"user_id": request.path_params["user_id"]})

    ns = run_seed(
        MOUNT_APP,
        App=App,
        homepage=core_app()["homepage"],
        list_users=list_users,
        get_user=get_user,
    )
    client = TestClient(ns["app"])
    assert client.get("/").json() == {"status": "running"}
    # /api/v1/users arrives at list_users, which is routed as /users.
    assert client.get("/api/v1/users").json() == {"users": ["ada"], "route": "/users"}
    assert client.get("/api/v1/users/3").json() == {"user_id": 3}
    assert client.get("/static/hello.txt").text == "hello static"
    assert client.get("/static/../secret.txt").status_code == 404
    assert client.get("/static/%2e%2e/secret.txt").status_code == 404
    assert client.get("/users").status_code == 404


@needs(*APP_MODULES, "asgiforge.runtime.websockets")
def test_websocket_echo_through_the_testclient() -> None:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.testclient import TestClient

    ns = run_seed(WEBSOCKET_APP, App=App, process=process)
    with TestClient(ns["app"]).websocket_connect("/ws") as ws:
        ws.send_json({"action": "ping"})
        assert ws.receive_json() == {"result": "pong"}
        ws.send_text("not json")  # the seed's `except Exception` closes with 1011
        assert ws.receive()["code"] == 1011


@needs(*APP_MODULES, "asgiforge.runtime.websockets")
def test_websocket_echo_under_uvicorn() -> None:
    """The seed's endpoint for real, including a client that vanishes mid-conversation."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from asgiforge.runtime.applications import App

    calls: list[Any] = []
    finished = threading.Event()

    def tracking_process(data: Any) -> Any:
        calls.append(data)
        return process(data)

    ns = run_seed(WEBSOCKET_APP, App=App, process=tracking_process)
    endpoint = ns["ws_endpoint"]

    async def tracked(websocket: Any) -> None:
        try:
            await endpoint(websocket)
        finally:
            finished.set()

    from asgiforge.runtime.routing import WebSocketRoute

    app = App(routes=[WebSocketRoute("/ws", tracked)])
    with serve_in_thread(app) as (server, host):
        with connect(f"ws://{host}/ws", open_timeout=5) as client:
            client.send('{"action": "ping"}')
            assert client.recv(timeout=5) == '{"result":"pong"}'
            client.send("{oops")
            with pytest.raises(ConnectionClosed) as info:
                client.recv(timeout=5)
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1011
        finished.clear()
        with connect(f"ws://{host}/ws", open_timeout=5) as client:
            client.send('{"n": 1}')
            assert client.recv(timeout=5) == '{"result":{"n":1}}'
            client.socket.close()  # gone without a close frame
            assert finished.wait(10), "the handler did not notice the vanished client"
        deadline = time.monotonic() + 10
        while server.server_state.tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not server.server_state.tasks, "a connection task leaked"
    assert calls == [{"action": "ping"}, {"n": 1}]


@needs(*APP_MODULES, "asgiforge.runtime.background")
def test_background_task_runs_after_the_response() -> None:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.routing import Route
    from asgiforge.runtime.testclient import TestClient

    body_seen = threading.Event()
    sent: list[tuple[int, str, bool]] = []

    class NotificationService:
        async def send(self, user_id: int, message: str) -> None:
            delivered = await anyio.to_thread.run_sync(body_seen.wait, 5.0)
            sent.append((user_id, message, delivered))

    async def process_order(request: Any) -> Any:
        data = await request.json()
        return types.SimpleNamespace(id=99, user_id=data["user_id"])

    ns = run_seed(
        BACKGROUND_TASK, notification_service=NotificationService(), process_order=process_order
    )
    app = App(routes=[Route("/orders", ns["create_order"], methods=["POST"])])
    with TestClient(app).stream("POST", "/orders", json={"user_id": 5}) as response:
        chunks = response.iter_bytes()  # kept: dropping the iterator would hang up
        assert next(chunks) == b'{"order_id":99}'
        assert sent == []  # the task has not run: the client already holds the response
        body_seen.set()
        assert b"".join(chunks) == b""
    assert sent == [(5, "Order confirmed", True)]


@needs(*APP_MODULES, "asgiforge.runtime.lifespan")
def test_lifespan_with_app_state() -> None:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.responses import JSONResponse
    from asgiforge.runtime.routing import Route
    from asgiforge.runtime.testclient import TestClient

    pools: list[FakePool] = []

    async def create_db_pool() -> FakePool:
        pools.append(FakePool())
        return pools[-1]

    async def uses_db(request: Any) -> Any:
        return JSONResponse({"db": type(request.app.state.db).__name__})

    ns = run_seed(LIFESPAN, App=App, create_db_pool=create_db_pool, routes=[Route("/db", uses_db)])
    with TestClient(ns["app"]) as client:
        assert client.get("/db").json() == {"db": "FakePool"}
        assert not pools[0].closed
    assert len(pools) == 1
    assert pools[0].closed


@needs(*APP_MODULES, "asgiforge.runtime.websockets")
def test_the_seed_testclient_tests_pass() -> None:
    ns = run_seed(TESTCLIENT_TESTS, app=app_with_websocket())
    ns["test_homepage"]()
    ns["test_websocket"]()


@needs(*APP_MODULES)
@pytest.mark.anyio
async def test_the_seed_async_client_test_passes() -> None:
    ns = run_seed(ASYNC_CLIENT_TEST, app=core_app()["app"])
    await ns["test_homepage_async"]()


@needs(*APP_MODULES)
def test_sse_chunks_arrive_one_by_one_over_a_real_socket() -> None:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.routing import Route

    ns = run_seed(SSE_STREAM)
    app = App(routes=[Route("/stream", ns["stream_response"])])
    arrivals: list[tuple[float, str]] = []
    with serve_in_thread(app) as (_, host), httpx2.Client(timeout=10) as client:
        start = time.monotonic()
        with client.stream("GET", f"http://{host}/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for text in response.iter_text():
                arrivals.append((time.monotonic() - start, text))
    events = "".join(text for _, text in arrivals).split("\n\n")
    assert events[:-1] == [f"data: chunk {i}" for i in range(10)] + ["data: [DONE]"]
    # Streamed, not buffered: many separate reads, the first long before the last.
    assert len(arrivals) >= 8
    assert arrivals[0][1] == "data: chunk 0\n\n"
    assert arrivals[-1][0] - arrivals[0][0] >= 0.6


@needs(*APP_MODULES)
@pytest.mark.slow
def test_uvicorn_run_example_as_a_process(tmp_path: Path) -> None:
    port = free_port()
    source = UVICORN_RUN.replace("host='0.0.0.0', port=8000", f"host='127.0.0.1', port={port}")
    assert source != UVICORN_RUN
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(source))
    proc = spawn([sys.executable, str(script)], cwd=tmp_path)
    try:
        wait_for_port(port, proc)
        response = httpx2.get(f"http://127.0.0.1:{port}/items", timeout=10)
        assert response.status_code == 200
        assert response.json() == [{"name": "item-1", "status": "active"}]
    finally:
        kill_group(proc)
