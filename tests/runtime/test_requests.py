"""HTTPConnection / Request as a handler sees them: URL parts, cookies, state, body, JSON, forms."""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

import anyio
import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.datastructures import State, URLPath
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.formparsers import MultiPartException
from asgiforge.runtime.requests import (
    ClientDisconnect,
    HTTPConnection,
    InvalidJSONBody,
    MiddlewareNotInstalled,
    Request,
    cookie_parser,
)
from asgiforge.runtime.responses import JSONResponse, PlainTextResponse
from asgiforge.runtime.routing import Route
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Message


def make_scope(**extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"example.org")],
    }
    scope.update(extra)
    return scope


def body_receiver(*chunks: bytes) -> Any:
    """A receive() that hands out `chunks` as one http.request each, then a disconnect."""
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    return receive


# --- HTTPConnection ----------------------------------------------------------------------------


def test_url_parts_from_the_scope() -> None:
    request = Request(
        make_scope(path="/api/users", root_path="/api", query_string=b"a=1&a=2&b=%C3%A9")
    )
    assert str(request.url) == "http://example.org/api/users?a=1&a=2&b=%C3%A9"
    assert request.url is request.url  # cached
    assert str(request.base_url) == "http://example.org/api/"
    assert request.query_params.getlist("a") == ["1", "2"]
    assert request.query_params["b"] == "é"
    assert request.method == "GET"


def test_base_url_without_root_path_and_with_app_root_path() -> None:
    assert str(Request(make_scope(path="/x")).base_url) == "http://example.org/"
    scope = make_scope(path="/sub/x", root_path="/sub/deeper", app_root_path="/sub")
    assert str(Request(scope).base_url) == "http://example.org/sub/"


def test_headers_path_params_client_and_mapping_interface() -> None:
    scope = make_scope(
        headers=[(b"host", b"h"), (b"x-multi", b"1"), (b"x-multi", b"2")],
        path_params={"user_id": 42},
        client=("10.0.0.1", 5555),
    )
    conn = HTTPConnection(scope)
    assert conn.headers["X-Multi"] == "1"
    assert conn.headers.getlist("x-multi") == ["1", "2"]
    assert conn.path_params == {"user_id": 42}
    assert conn.client is not None
    assert (conn.client.host, conn.client.port) == ("10.0.0.1", 5555)
    assert conn["path"] == "/"
    assert "headers" in conn
    assert len(conn) == len(scope)
    assert conn != HTTPConnection(scope)  # identity, not mapping equality
    assert HTTPConnection(make_scope(client=None)).client is None
    assert HTTPConnection(make_scope()).path_params == {}


def test_non_http_scopes_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="'http' or 'websocket'"):
        HTTPConnection({"type": "lifespan"})
    with pytest.raises(ValueError, match="'http' scope"):
        Request({"type": "websocket"})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1;b=2;a=3", {"a": "3", "b": "2"}),
        ("  spaced  =  value  ", {"spaced": "value"}),
        ("novalue", {"": "novalue"}),
        ("key=", {"key": ""}),
        ("=", {}),
        (";;;", {}),
        ('q="quoted \\"x\\" \\073"', {"q": 'quoted "x" ;'}),
        ('json={"a": 1}', {"json": '{"a": 1}'}),
        ("eq=a=b=c", {"eq": "a=b=c"}),
        ("bad\\cookie=1; ok=2", {"bad\\cookie": "1", "ok": "2"}),
        ('unterminated="abc', {"unterminated": '"abc'}),
        ('trailing="ab\\"', {"trailing": "ab\\"}),
        ("ünïcode=välue", {"ünïcode": "välue"}),
    ],
)
def test_cookie_parser_is_lenient(header: str, expected: dict[str, str]) -> None:
    assert cookie_parser(header) == expected


def test_cookie_parser_is_linear_on_hostile_input() -> None:
    hostile = ['"' + "\\" * 200_000 + '"', '"' + "\\0" * 100_000 + '"', "a=" * 100_000]
    for header in hostile:
        started = time.perf_counter()
        cookie_parser("k=" + header)
        assert time.perf_counter() - started < 0.5


def test_request_cookies_join_every_cookie_header() -> None:
    scope = make_scope(headers=[(b"cookie", b"a=1"), (b"cookie", b"b=2; c")])
    assert Request(scope).cookies == {"a": "1", "b": "2", "": "c"}
    assert Request(make_scope()).cookies == {}


@pytest.mark.parametrize(
    ("attribute", "middleware"),
    [
        ("session", "SessionMiddleware"),
        ("auth", "AuthenticationMiddleware"),
        ("user", "AuthenticationMiddleware"),
    ],
)
def test_missing_middleware_is_named(attribute: str, middleware: str) -> None:
    request = Request(make_scope())
    with pytest.raises(MiddlewareNotInstalled, match=middleware):
        getattr(request, attribute)
    with pytest.raises(AssertionError):  # what Starlette raises, for code that catches it
        getattr(request, attribute)


def test_session_auth_user_when_middleware_set_them() -> None:
    request = Request(make_scope(session={"a": 1}, auth="creds", user="alice"))
    assert request.session == {"a": 1}
    assert request.auth == "creds"
    assert request.user == "alice"


def test_state_lives_in_the_scope_and_is_seeded_from_it() -> None:
    scope = make_scope(state={"db": "conn"})
    request = Request(scope)
    assert request.state.db == "conn"
    request.state.user_id = 7
    assert scope["state"]["user_id"] == 7
    fresh = make_scope()
    Request(fresh).state.x = 1
    assert fresh["state"] == {"x": 1}


def test_app_and_url_for() -> None:
    class Router:
        def url_path_for(self, name: str, /, **params: Any) -> URLPath:
            return URLPath(f"/{name}/{params['id']}", protocol="http")

    request = Request(make_scope(app="the-app", router=Router(), root_path="/r", path="/r/x"))
    assert request.app == "the-app"
    assert str(request.url_for("users", id=3)) == "http://example.org/r/users/3"


def test_url_for_without_a_router_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="router"):
        Request(make_scope()).url_for("x")


# --- Body --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_body_joins_chunks_and_is_cached() -> None:
    request = Request(make_scope(method="POST"), body_receiver(b"ab", b"", b"cd"))
    assert await request.body() == b"abcd"
    assert await request.body() == b"abcd"
    assert [chunk async for chunk in request.stream()] == [b"abcd", b""]


@pytest.mark.anyio
async def test_stream_yields_chunks_then_refuses_a_second_read() -> None:
    request = Request(make_scope(method="POST"), body_receiver(b"a", b"b"))
    assert [chunk async for chunk in request.stream()] == [b"a", b"b", b""]
    with pytest.raises(RuntimeError, match="Stream consumed"):
        await request.body()


@pytest.mark.anyio
async def test_client_disconnect_while_reading() -> None:
    async def receive() -> Message:
        return {"type": "http.disconnect"}

    request = Request(make_scope(method="POST"), receive)
    with pytest.raises(ClientDisconnect):
        await request.body()
    assert await request.is_disconnected()


@pytest.mark.anyio
async def test_is_disconnected_does_not_block() -> None:
    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    request = Request(make_scope(), receive)
    with anyio.fail_after(1):
        assert await request.is_disconnected() is False


@pytest.mark.anyio
async def test_json_parses_the_body() -> None:
    request = Request(make_scope(method="POST"), body_receiver(b'{"a": [1, "\xc3\xa9"]}'))
    assert await request.json() == {"a": [1, "é"]}
    assert await request.json() == {"a": [1, "é"]}
    for encoded in ('\ufeff{"é": 1}'.encode(), '{"é": 1}'.encode("utf-16")):
        request = Request(make_scope(method="POST"), body_receiver(encoded))
        assert await request.json() == {"é": 1}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body", [b"", b"{not json", b'{"a": 1', b"\xff\xfe\xfa", b'"\xed\xa0\x80"', b"[" * 100_000]
)
async def test_bad_json_is_a_400_and_a_json_decode_error(body: bytes) -> None:
    request = Request(make_scope(method="POST"), body_receiver(body))
    with pytest.raises(InvalidJSONBody) as caught:
        await request.json()
    error = caught.value
    assert isinstance(error, HTTPException)
    assert isinstance(error, json.JSONDecodeError)
    assert isinstance(error, ValueError)
    assert error.status_code == 400
    assert "Invalid JSON" in error.detail


@pytest.mark.anyio
async def test_deeply_nested_json_is_refused_without_a_second_copy_of_the_body() -> None:
    """50 MiB of "[" is a quick 400 that never decodes the body into a 50 MiB str."""
    size = 50 * 1024 * 1024
    chunk = b"[" * (1024 * 1024)
    request = Request(make_scope(method="POST"), body_receiver(*[chunk] * 50))
    await request.body()  # the one copy every parse needs
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(InvalidJSONBody, match="nested too deeply"):
            await request.json()
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 10
    assert elapsed < 2


@pytest.mark.anyio
async def test_deep_but_parseable_prefixes_still_reach_the_parser() -> None:
    request = Request(make_scope(method="POST"), body_receiver(b"[" * 50 + b"]" * 50))
    value = await request.json()
    for _ in range(49):
        value = value[0]
    assert value == []


@pytest.mark.anyio
async def test_bad_json_stays_catchable_as_value_error() -> None:
    request = Request(make_scope(method="POST"), body_receiver(b"nope"))
    try:
        await request.json()
    except ValueError as exc:
        assert isinstance(exc, json.JSONDecodeError)
        assert exc.pos == 0 and exc.lineno == 1
    else:
        raise AssertionError("expected a ValueError")


def json_app() -> App:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(await request.json())

    return App(routes=[Route("/echo", echo, methods=["POST"])])


def test_bad_json_ends_as_a_clear_400_through_the_app() -> None:
    client = TestClient(json_app(), raise_server_exceptions=False)
    assert client.post("/echo", content=b'{"ok": true}').json() == {"ok": True}
    for body in (b"{oops", b"\xff\xff", b"[" * 50_000):
        response = client.post("/echo", content=body)
        assert response.status_code == 400, body[:10]
        assert "Invalid JSON" in response.text


# --- Forms -------------------------------------------------------------------------------------


def form_scope(content_type: bytes) -> dict[str, Any]:
    return make_scope(method="POST", headers=[(b"content-type", content_type)])


@pytest.mark.anyio
async def test_urlencoded_form() -> None:
    request = Request(
        form_scope(b"application/x-www-form-urlencoded"), body_receiver(b"a=1&b=x%20y&a=2")
    )
    form = await request.form()
    assert form.getlist("a") == ["1", "2"]
    assert form["b"] == "x y"


@pytest.mark.anyio
async def test_multipart_form_as_context_manager_closes_files() -> None:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n'
        b'--B\r\nContent-Disposition: form-data; name="up"; filename="../../etc/passwd"\r\n'
        b"Content-Type: text/plain\r\n\r\nfile-content\r\n--B--\r\n"
    )
    request = Request(form_scope(b"multipart/form-data; boundary=B"), body_receiver(body))
    async with request.form() as form:
        upload = form["up"]
        assert form["field"] == "value"
        assert not isinstance(upload, str)
        assert upload.filename == "../../etc/passwd"  # data only, never a path
        assert await upload.read() == b"file-content"
    assert upload.file.closed


@pytest.mark.anyio
async def test_form_limits_become_400() -> None:
    """Under an App (scope["app"] set) a broken limit is a 400; as in Starlette."""
    many = b"&".join(b"f%d=1" % i for i in range(1001))
    scope = {**form_scope(b"application/x-www-form-urlencoded"), "app": object()}
    request = Request(scope, body_receiver(many))
    with pytest.raises(HTTPException) as caught:
        await request.form()
    assert caught.value.status_code == 400
    assert caught.value.detail == "Too many fields. Maximum number of fields is 1000."

    body = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="f%d"; filename="a"\r\n\r\nx\r\n' % i
        for i in range(3)
    )
    scope = {**form_scope(b"multipart/form-data; boundary=B"), "app": object()}
    request = Request(scope, body_receiver(body + b"--B--\r\n"))
    with pytest.raises(HTTPException) as caught:
        await request.form(max_files=2)
    assert caught.value.status_code == 400
    assert caught.value.detail == "Too many files. Maximum number of files is 2."


@pytest.mark.anyio
async def test_form_limits_outside_an_app_raise_the_parser_error() -> None:
    """A bare ASGI app using Request gets the MultiPartException itself, as in Starlette."""
    many = b"&".join(b"f%d=1" % i for i in range(3))
    request = Request(form_scope(b"application/x-www-form-urlencoded"), body_receiver(many))
    with pytest.raises(MultiPartException, match="Maximum number of fields is 2"):
        await request.form(max_fields=2)


@pytest.mark.anyio
async def test_other_content_types_give_an_empty_form() -> None:
    request = Request(form_scope(b"application/json"), body_receiver(b"{}"))
    assert len(await request.form()) == 0


def test_form_through_the_app() -> None:
    async def submit(request: Request) -> PlainTextResponse:
        async with request.form() as form:
            return PlainTextResponse(f"{form['name']}")

    client = TestClient(App(routes=[Route("/f", submit, methods=["POST"])]))
    assert client.post("/f", data={"name": "ada"}).text == "ada"
    too_many = {f"k{i}": "v" for i in range(1001)}
    response = client.post("/f", data=too_many)
    assert response.status_code == 400


# --- Push promises and early hints -------------------------------------------------------------


@pytest.mark.anyio
async def test_push_promise_only_when_supported() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"accept", b"text/css"), (b"cookie", b"secret"), (b"user-agent", b"ua")]
    await Request(make_scope(headers=headers), send=send).send_push_promise("/style.css")
    assert sent == []
    scope = make_scope(headers=headers, extensions={"http.response.push": {}})
    await Request(scope, send=send).send_push_promise("/style.css")
    assert sent == [
        {
            "type": "http.response.push",
            "path": "/style.css",
            "headers": [(b"accept", b"text/css"), (b"user-agent", b"ua")],
        }
    ]


@pytest.mark.anyio
async def test_early_hints_only_when_supported_and_never_with_line_breaks() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    link = "</style.css>; rel=preload; as=style"
    await Request(make_scope(), send=send).send_early_hints([link])
    assert sent == []
    request = Request(make_scope(extensions={"http.response.early_hint": {}}), send=send)
    await request.send_early_hints(link, "</app.js>; rel=preload; as=script")  # Starlette's form
    assert sent == [
        {
            "type": "http.response.early_hint",
            "links": [link.encode(), b"</app.js>; rel=preload; as=script"],
        }
    ]
    await request.send_early_hints([link])  # a list is still accepted
    assert sent[-1]["links"] == [link.encode()]
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        await request.send_early_hints(["</x>\r\nSet-Cookie: a=b"])
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        await request.send_early_hints(link, "</x>\nSet-Cookie: a=b")
    assert len(sent) == 2


# ------------------------------------------------------------- Request[State] typing (mypy)

TYPED_STATE_SNIPPET = """
from typing import TypedDict

from asgiforge.runtime.datastructures import State
from asgiforge.runtime.requests import HTTPConnection, Request
from asgiforge.runtime.websockets import WebSocket


class Database:
    pass


class AppState(State):
    db: Database


class DictState(TypedDict):
    db: Database
    count: int


def by_attribute(request: Request[AppState]) -> Database:
    return request.state.db


def by_key(request: Request[DictState]) -> int:
    return request.state["count"]


def on_a_websocket(websocket: WebSocket[AppState]) -> Database:
    return websocket.state.db


def on_a_connection(conn: HTTPConnection[DictState]) -> Database:
    return conn.state["db"]


def unparametrised(request: Request, websocket: WebSocket) -> tuple[State, State]:
    return request.state, websocket.state


def wrong_type(request: Request[DictState]) -> str:
    return request.state["count"]  # expected error: int is not str


def unknown_key(request: Request[DictState]) -> object:
    return request.state["nope"]  # expected error: not a key of DictState
"""


def test_request_is_generic_over_its_state_type(tmp_path: Any) -> None:
    """`Request[MyState]` type-checks (Starlette 0.52+) and mypy sees the state's own types."""
    from mypy import api

    source = tmp_path / "typed_state.py"
    source.write_text(TYPED_STATE_SNIPPET)
    stdout, stderr, _status = api.run(
        ["--strict", "--no-incremental", "--python-version", "3.11", str(source)]
    )
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    expected = [
        str(number)
        for number, line in enumerate(TYPED_STATE_SNIPPET.splitlines(), start=1)
        if "# expected error" in line
    ]
    assert [line.split(":")[1] for line in errors] == expected, stdout + stderr
    assert "Incompatible return value type" in errors[0]
    assert '"nope"' in errors[1]


def test_parametrised_request_works_at_run_time() -> None:
    class AppState(State):
        db: str

    request = Request[AppState](make_scope(state={"db": "sqlite"}))
    assert request.state.db == "sqlite"
    assert request.state["db"] == "sqlite"
    assert type(request) is Request  # no subclass or wrapper per parametrisation
