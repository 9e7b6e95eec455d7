from __future__ import annotations

import threading
from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.endpoints import HTTPEndpoint, WebSocketEndpoint
from asgiforge.runtime.responses import PlainTextResponse
from asgiforge.runtime.routing import Route, Router, WebSocketRoute
from asgiforge.runtime.testclient import TestClient


class Items(HTTPEndpoint):
    async def get(self, request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"get {request.path_params.get('id', '')}")

    def post(self, request: Any) -> PlainTextResponse:  # sync: runs in a worker thread
        return PlainTextResponse(f"post in thread: {threading.current_thread().name != 'main'}")

    def dispatch_helper(self) -> None:
        """A public method that is not an HTTP verb must never be reachable."""


def test_http_endpoint_dispatches_by_method() -> None:
    client = TestClient(App(routes=[Route("/items/{id}", Items)]))
    assert client.get("/items/3").text == "get 3"
    assert client.post("/items/3").text == "post in thread: True"


def test_http_endpoint_head_falls_back_to_get() -> None:
    response = TestClient(App(routes=[Route("/", Items)])).head("/")
    assert response.status_code == 200
    assert response.content == b""


def test_http_endpoint_405_with_allow_inside_app_and_bare() -> None:
    for app in (App(routes=[Route("/", Items)]), Router([Route("/", Items)])):
        response = TestClient(app).delete("/")
        assert response.status_code == 405
        assert response.text == "Method Not Allowed"
        assert response.headers["allow"] == "GET, HEAD, POST"


class Searchable(HTTPEndpoint):
    async def query(self, request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"query {(await request.body()).decode()}")

    async def get(self, request: Any) -> PlainTextResponse:
        await request.send_early_hints("</style.css>; rel=preload; as=style")
        return PlainTextResponse("get")


def test_http_endpoint_serves_the_query_method() -> None:
    client = TestClient(App(routes=[Route("/", Searchable)]))
    assert client.request("QUERY", "/", content=b"x").text == "query x"
    assert client.post("/").headers["allow"] == "GET, HEAD, QUERY"


@pytest.mark.anyio
async def test_http_endpoint_request_can_send_early_hints() -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:  # pragma: no cover - a GET reads no body
        raise AssertionError("not called")

    scope = {"type": "http", "method": "GET", "extensions": {"http.response.early_hint": {}}}
    await Searchable(scope, receive, send)
    assert sent[0] == {
        "type": "http.response.early_hint",
        "links": [b"</style.css>; rel=preload; as=style"],
    }
    assert [m["type"] for m in sent[1:]] == ["http.response.start", "http.response.body"]


def test_http_endpoint_never_dispatches_non_verbs() -> None:
    client = TestClient(App(routes=[Route("/", Items)]))
    for method in ("DISPATCH_HELPER", "METHOD_NOT_ALLOWED", "__INIT__"):
        assert client.request(method, "/").status_code == 405


def test_http_endpoint_refuses_websocket_scopes() -> None:
    with pytest.raises(TypeError, match="HTTP requests"):
        Items({"type": "websocket"}, None, None)  # type: ignore[arg-type]


class Echo(WebSocketEndpoint):
    encoding = "json"
    closed_with: list[int] = []

    async def on_receive(self, websocket: Any, data: Any) -> None:
        await websocket.send_json({"echo": data})

    async def on_disconnect(self, websocket: Any, close_code: int) -> None:
        self.closed_with.append(close_code)


def test_websocket_endpoint_json_echo() -> None:
    Echo.closed_with = []
    client = TestClient(App(routes=[WebSocketRoute("/ws", Echo)]))
    with client.websocket_connect("/ws") as session:
        session.send_json({"n": 1})
        assert session.receive_json() == {"echo": {"n": 1}}
        session.send_bytes(b'{"n": 2}')
        assert session.receive_json() == {"echo": {"n": 2}}
    assert Echo.closed_with == [1000]


def test_websocket_endpoint_malformed_json_closes_with_1003_then_raises() -> None:
    # Starlette's behaviour: the client gets 1003, the app a RuntimeError (on_disconnect: 1011).
    Echo.closed_with = []
    client = TestClient(App(routes=[WebSocketRoute("/ws", Echo)]))
    with (
        pytest.raises(RuntimeError, match="Malformed JSON data received"),
        client.websocket_connect("/ws") as session,
    ):
        session.send_text("{not json")
        message = session.receive()
    assert message == {"type": "websocket.close", "code": 1003, "reason": ""}
    assert Echo.closed_with == [1011]


@pytest.mark.parametrize(
    ("encoding", "good", "bad"),
    [("text", ("text", "hello"), ("bytes", b"x")), ("bytes", ("bytes", b"hi"), ("text", "x"))],
)
def test_websocket_endpoint_text_and_bytes(encoding: str, good: Any, bad: Any) -> None:
    received: list[Any] = []

    class Endpoint(WebSocketEndpoint):
        async def on_receive(self, websocket: Any, data: Any) -> None:
            received.append(data)
            await websocket.send_text("ack")

    Endpoint.encoding = encoding  # type: ignore[assignment]
    client = TestClient(App(routes=[WebSocketRoute("/ws", Endpoint)]))
    with (
        pytest.raises(RuntimeError, match=f"Expected {encoding} websocket messages"),
        client.websocket_connect("/ws") as session,
    ):
        getattr(session, f"send_{good[0]}")(good[1])
        assert session.receive_text() == "ack"
        getattr(session, f"send_{bad[0]}")(bad[1])
        assert session.receive()["code"] == 1003
    assert received == [good[1]]


def test_websocket_endpoint_without_encoding_passes_raw_data() -> None:
    class Raw(WebSocketEndpoint):
        async def on_receive(self, websocket: Any, data: Any) -> None:
            await websocket.send_text(type(data).__name__)

    client = TestClient(App(routes=[WebSocketRoute("/ws", Raw)]))
    with client.websocket_connect("/ws") as session:
        session.send_text("a")
        assert session.receive_text() == "str"
        session.send_bytes(b"a")
        assert session.receive_text() == "bytes"


def test_websocket_endpoint_error_reports_1011_to_on_disconnect() -> None:
    codes: list[int] = []

    class Failing(WebSocketEndpoint):
        async def on_receive(self, websocket: Any, data: Any) -> None:
            raise RuntimeError("handler bug")

        async def on_disconnect(self, websocket: Any, close_code: int) -> None:
            codes.append(close_code)

    client = TestClient(App(routes=[WebSocketRoute("/ws", Failing)]))
    with pytest.raises(RuntimeError, match="handler bug"), client.websocket_connect("/ws") as s:
        s.send_text("x")
        s.receive()
    assert codes == [1011]


def test_websocket_endpoint_refuses_http_scopes() -> None:
    with pytest.raises(TypeError, match="WebSocket sessions"):
        Echo({"type": "http"}, None, None)  # type: ignore[arg-type]
