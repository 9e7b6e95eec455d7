"""A Starlette app, written the way Starlette's documentation writes it, ported by changing imports.

Everything below `create_app` is what a user would have in `app.py` with `starlette.` replaced by
`asgiforge.runtime.` (and `Starlette` by `App`); the tests drive it through the TestClient and
check only what a client or the user's code can see.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    requires,
)
from asgiforge.runtime.background import BackgroundTask, BackgroundTasks
from asgiforge.runtime.config import Config
from asgiforge.runtime.datastructures import CommaSeparatedStrings, Secret, UploadFile
from asgiforge.runtime.endpoints import HTTPEndpoint, WebSocketEndpoint
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.authentication import AuthenticationMiddleware
from asgiforge.runtime.middleware.cors import CORSMiddleware
from asgiforge.runtime.middleware.gzip import GZipMiddleware
from asgiforge.runtime.middleware.sessions import SessionMiddleware
from asgiforge.runtime.requests import HTTPConnection, Request
from asgiforge.runtime.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from asgiforge.runtime.routing import Host, Mount, Route, Router, WebSocketRoute
from asgiforge.runtime.staticfiles import StaticFiles
from asgiforge.runtime.templating import Jinja2Templates
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.websockets import WebSocket, WebSocketDisconnect

# Side effects the app reports to the tests (what a real app would write to a DB or a log).
EVENTS: list[str] = []


class BasicAuthBackend(AuthenticationBackend):
    """The backend from Starlette's authentication docs."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        if "Authorization" not in conn.headers:
            return None
        auth = conn.headers["Authorization"]
        try:
            scheme, credentials = auth.split()
            if scheme.lower() != "basic":
                return None
            decoded = base64.b64decode(credentials).decode("ascii")
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise AuthenticationError("Invalid basic auth credentials") from exc
        username, _, _password = decoded.partition(":")
        scopes = ["authenticated"] + (["admin"] if username == "admin" else [])
        return AuthCredentials(scopes), SimpleUser(username)


class PaymentRequired(Exception):
    pass


class State(TypedDict):
    counter: list[int]


def create_app(base: Path) -> App:
    """The ported `app.py`: settings from a `.env` file, then routes, middleware and handlers."""
    config = Config(base / ".env")
    DEBUG = config("DEBUG", cast=bool, default=False)
    SECRET_KEY = config("SECRET_KEY", cast=Secret)
    ALLOWED_ORIGINS = config("ALLOWED_ORIGINS", cast=CommaSeparatedStrings)
    APP_NAME = config("APP_NAME", default="demo")

    templates = Jinja2Templates(directory=str(base / "templates"))

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[State]:
        EVENTS.append("startup")
        yield {"counter": [0]}
        EVENTS.append("shutdown")

    async def homepage(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html", {"name": APP_NAME})

    async def user(request: Request) -> JSONResponse:
        user_id = request.path_params["user_id"]
        return JSONResponse({"user_id": user_id, "type": type(user_id).__name__})

    async def file_path(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["rest"])

    async def count(request: Request) -> JSONResponse:
        counter = request.state.counter  # attribute style...
        counter[0] += 1
        return JSONResponse({"count": request.state["counter"][0]})  # ...and dict style

    async def links(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "user": str(request.url_for("user", user_id=7)),
                "api_item": str(request.url_for("api:item", item_id="x")),
                "static": str(request.url_for("static", path="/style.css")),
                "path_only": request.app.url_path_for("user", user_id=8),
            }
        )

    class Items(HTTPEndpoint):
        async def get(self, request: Request) -> JSONResponse:
            return JSONResponse({"item": request.path_params["item_id"]})

        async def put(self, request: Request) -> JSONResponse:
            return JSONResponse({"updated": request.path_params["item_id"]})

    async def signup(request: Request) -> JSONResponse:
        data = await request.json()
        tasks = BackgroundTasks()
        tasks.add_task(EVENTS.append, f"welcome {data['username']}")
        tasks.add_task(EVENTS.append, "notify admin")
        return JSONResponse({"ok": True}, background=tasks)

    async def ping(request: Request) -> PlainTextResponse:
        task = BackgroundTask(EVENTS.append, "pinged")
        return PlainTextResponse("pong", background=task)

    async def numbers(request: Request) -> StreamingResponse:
        async def generate() -> AsyncIterator[str]:
            for number in range(1, 4):
                yield f"{number}\n"

        return StreamingResponse(generate(), media_type="text/plain")

    async def report(request: Request) -> FileResponse:
        return FileResponse(base / "report.csv", filename="report.csv")

    async def upload(request: Request) -> JSONResponse:
        async with request.form(max_files=float("inf"), max_fields=10) as form:
            upload = form["file"]
            assert isinstance(upload, UploadFile)
            contents = await upload.read()
            return JSONResponse(
                {
                    "title": form["title"],
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "size": len(contents),
                }
            )

    async def login(request: Request) -> RedirectResponse:
        request.session["user"] = request.query_params["name"]
        return RedirectResponse(url=request.url_for("whoami"), status_code=303)

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "session": request.session.get("user"),
                "auth_user": request.user.display_name,
                "is_authenticated": request.user.is_authenticated,
            }
        )

    @requires("authenticated")
    async def dashboard(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"Hello, {request.user.display_name}")

    @requires("admin", status_code=404)
    async def admin(request: Request) -> PlainTextResponse:
        return PlainTextResponse("admin area")

    @requires("authenticated", redirect="homepage")
    async def settings(request: Request) -> PlainTextResponse:
        return PlainTextResponse("settings")

    async def pay(request: Request) -> Response:
        raise PaymentRequired()

    async def teapot(request: Request) -> Response:
        raise HTTPException(status_code=418, detail="I'm a teapot")

    async def crash(request: Request) -> Response:
        raise RuntimeError("boom")

    async def websocket_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        name = websocket.path_params["room"]
        await websocket.send_text(f"Hello, {name}!")
        await websocket.close()

    class Echo(WebSocketEndpoint):
        encoding = "json"

        async def on_connect(self, websocket: WebSocket) -> None:
            await websocket.accept()

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_json({"echo": data})

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            EVENTS.append(f"echo closed {close_code}")

    async def not_found(request: Request, exc: HTTPException) -> HTMLResponse:
        return HTMLResponse(f"<h1>Nothing at {request.url.path}</h1>", status_code=exc.status_code)

    async def http_exception(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    async def payment_required(request: Request, exc: PaymentRequired) -> PlainTextResponse:
        return PlainTextResponse("Please pay", status_code=402)

    async def server_error(request: Request, exc: Exception) -> HTMLResponse:
        return HTMLResponse("<h1>Sorry</h1>", status_code=500)

    api = Router(
        routes=[
            Route("/items/{item_id}", Items, name="item"),
            Route("/numbers", numbers),
        ]
    )

    routes = [
        Host("admin.example.org", app=Router([Route("/", admin)]), name="admin_site"),
        Route("/", homepage, name="homepage"),
        Route("/users/{user_id:int}", user, name="user"),
        Route("/files/{rest:path}", file_path),
        Route("/count", count),
        Route("/links", links),
        Route("/signup", signup, methods=["POST"]),
        Route("/ping", ping),
        Route("/report", report),
        Route("/upload", upload, methods=["POST"]),
        Route("/login", login),
        Route("/whoami", whoami, name="whoami"),
        Route("/dashboard", dashboard),
        Route("/admin", admin),
        Route("/settings", settings),
        Route("/pay", pay),
        Route("/teapot", teapot),
        Route("/crash", crash),
        WebSocketRoute("/ws/{room}", websocket_endpoint),
        WebSocketRoute("/echo", Echo),
        Mount("/api", app=api, name="api"),
        Mount("/static", app=StaticFiles(directory=base / "static"), name="static"),
    ]

    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(ALLOWED_ORIGINS),
            allow_methods=["GET", "POST"],
            allow_headers=["X-Token"],
        ),
        Middleware(GZipMiddleware, minimum_size=100),
        Middleware(SessionMiddleware, secret_key=str(SECRET_KEY)),
        Middleware(AuthenticationMiddleware, backend=BasicAuthBackend()),
    ]

    exception_handlers = {
        404: not_found,
        500: server_error,
        HTTPException: http_exception,
        PaymentRequired: payment_required,
    }

    return App(
        debug=DEBUG,
        routes=routes,
        middleware=middleware,
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        lifespan=lifespan,
    )


# --- the tests -----------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(
        "# settings\nDEBUG=false\nSECRET_KEY=s3cr3t-key\n"
        "ALLOWED_ORIGINS=https://example.org, https://app.example.org\nAPP_NAME='Ported'\n"
    )
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(
        "<h1>{{ name }}</h1>"
        "<link href=\"{{ url_for('static', path='/style.css') }}\">"
        "<a href=\"{{ url_for('user', user_id=1) }}\">me</a>"
    )
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "style.css").write_text("body { color: red; }\n" * 20)
    (tmp_path / "report.csv").write_text("a,b\n1,2\n")
    return tmp_path


@pytest.fixture
def client(project: Path) -> Iterator[TestClient]:
    EVENTS.clear()
    with TestClient(create_app(project), raise_server_exceptions=False) as test_client:
        yield test_client


def basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:pw".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_config_and_template_with_url_for(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == (
        '<h1>Ported</h1><link href="http://testserver/static/style.css">'
        '<a href="http://testserver/users/1">me</a>'
    )


def test_lifespan_runs_and_its_state_reaches_requests(project: Path) -> None:
    EVENTS.clear()
    with TestClient(create_app(project)) as client:
        assert EVENTS == ["startup"]
        assert client.get("/count").json() == {"count": 1}
        assert client.get("/count").json() == {"count": 2}
    assert EVENTS == ["startup", "shutdown"]


def test_converters_and_url_for(client: TestClient) -> None:
    assert client.get("/users/42").json() == {"user_id": 42, "type": "int"}
    assert client.get("/users/abc").status_code == 404  # the converter does not match
    assert client.get("/files/a/b/c.txt").text == "a/b/c.txt"
    assert client.get("/links").json() == {
        "user": "http://testserver/users/7",
        "api_item": "http://testserver/api/items/x",
        "static": "http://testserver/static/style.css",
        "path_only": "/users/8",
    }


def test_mount_with_http_endpoint_and_405(client: TestClient) -> None:
    assert client.get("/api/items/9").json() == {"item": "9"}
    assert client.put("/api/items/9").json() == {"updated": "9"}
    response = client.delete("/api/items/9")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}  # through the HTTPException handler


def test_host_routing(client: TestClient) -> None:
    assert client.get("/", headers={"host": "admin.example.org"}).status_code == 404
    response = client.get("/", headers={"host": "admin.example.org", **basic("admin")})
    assert response.text == "admin area"
    assert client.get("/", headers=basic("admin")).text.startswith("<h1>Ported</h1>")


def test_exception_handlers_by_status_and_class(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.text == "<h1>Nothing at /nowhere</h1>"
    assert client.get("/teapot").json() == {"detail": "I'm a teapot"}
    response = client.get("/pay")
    assert (response.status_code, response.text) == (402, "Please pay")
    response = client.get("/crash")
    assert (response.status_code, response.text) == (500, "<h1>Sorry</h1>")


def test_server_exceptions_reach_the_test_by_default(project: Path) -> None:
    with TestClient(create_app(project)) as client, pytest.raises(RuntimeError, match="boom"):
        client.get("/crash")


def test_background_tasks_run_after_the_response(client: TestClient) -> None:
    assert client.post("/signup", json={"username": "ada"}).json() == {"ok": True}
    assert client.get("/ping").text == "pong"
    assert EVENTS[1:] == ["welcome ada", "notify admin", "pinged"]


def test_streaming_and_file_responses(client: TestClient) -> None:
    response = client.get("/api/numbers")
    assert response.text == "1\n2\n3\n"
    response = client.get("/report")
    assert response.content == b"a,b\n1,2\n"
    assert response.headers["content-disposition"] == 'attachment; filename="report.csv"'
    assert "etag" in response.headers
    assert response.headers["content-type"].startswith("text/csv")
    partial = client.get("/report", headers={"Range": "bytes=0-2"})
    assert (partial.status_code, partial.content) == (206, b"a,b")


def test_static_files_gzip_and_conditional_get(client: TestClient) -> None:
    response = client.get("/static/style.css", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == "body { color: red; }\n" * 20  # httpx decodes it
    etag = client.get("/static/style.css").headers["etag"]
    assert client.get("/static/style.css", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/static/../.env").status_code == 404


def test_raw_gzip_body_is_really_gzip(client: TestClient) -> None:
    with client.stream("GET", "/static/style.css", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert gzip.decompress(raw) == b"body { color: red; }\n" * 20


def test_form_with_upload(client: TestClient) -> None:
    response = client.post(
        "/upload",
        data={"title": "Quarterly"},
        files={"file": ("q1.csv", b"x,y\n" * 100, "text/csv")},
    )
    assert response.json() == {
        "title": "Quarterly",
        "filename": "q1.csv",
        "content_type": "text/csv",
        "size": 400,
    }
    too_many = {f"f{i}": "v" for i in range(11)}
    response = client.post("/upload", data=too_many)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail == "Too many fields. Maximum number of fields is 10."  # Starlette's wording


def test_sessions_and_authentication(client: TestClient) -> None:
    response = client.get("/login?name=ada", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "http://testserver/whoami"
    assert "httponly" in response.headers["set-cookie"].lower()
    assert client.get("/whoami").json() == {
        "session": "ada",
        "auth_user": "",
        "is_authenticated": False,
    }
    assert client.get("/whoami", headers=basic("bob")).json()["auth_user"] == "bob"


def test_requires(client: TestClient) -> None:
    assert client.get("/dashboard").status_code == 403
    assert client.get("/dashboard", headers=basic("bob")).text == "Hello, bob"
    assert client.get("/admin", headers=basic("bob")).status_code == 404
    assert client.get("/admin", headers=basic("admin")).text == "admin area"
    response = client.get("/settings", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        "http://testserver/?next=http%3A%2F%2Ftestserver%2Fsettings"
    )
    bad = client.get("/dashboard", headers={"Authorization": "Basic"})
    assert (bad.status_code, bad.text) == (400, "Invalid basic auth credentials")


def test_cors(client: TestClient) -> None:
    response = client.get("/users/1", headers={"Origin": "https://app.example.org"})
    assert response.headers["access-control-allow-origin"] == "https://app.example.org"
    preflight = client.options(
        "/users/1",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://example.org"
    refused = client.options(
        "/users/1",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_websocket_function_and_endpoint(client: TestClient) -> None:
    with client.websocket_connect("/ws/lobby") as websocket:
        assert websocket.receive_text() == "Hello, lobby!"
        with pytest.raises(WebSocketDisconnect):
            websocket.receive_text()
    with client.websocket_connect("/echo") as websocket:
        websocket.send_json({"n": 1})
        assert websocket.receive_json() == {"echo": {"n": 1}}
        websocket.close(code=1001)
    assert "echo closed 1001" in EVENTS
