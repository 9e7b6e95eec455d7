"""WebSocket: the state machine through the TestClient, then for real under uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from asgiforge.runtime.testclient import TestClient, WebSocketDenialResponse
from asgiforge.runtime.types import Receive, Scope, Send
from asgiforge.runtime.websockets import (
    WebSocket,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)
from tests.servers import serve_in_thread

Handler = Callable[[WebSocket], Awaitable[None]]


def ws_app(handler: Handler) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A bare ASGI app running `handler` on a WebSocket (no routing involved)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        await handler(WebSocket(scope, receive, send))

    return app


def connect_to(handler: Handler, path: str = "/", **kwargs: Any) -> Any:
    return TestClient(ws_app(handler)).websocket_connect(path, **kwargs)


# -- through the TestClient ---------------------------------------------------------------------


def test_text_bytes_and_json_round_trips() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.send_bytes(await ws.receive_bytes())
        await ws.send_json(await ws.receive_json())
        await ws.send_json(await ws.receive_json(mode="binary"), mode="binary")
        await ws.close()

    with connect_to(handler) as ws:
        ws.send_text("héllo")
        assert ws.receive_text() == "héllo"
        ws.send_bytes(b"\xff\x00")
        assert ws.receive_bytes() == b"\xff\x00"
        ws.send_json({"a": ["é", 1]})
        assert ws.receive_text() == '{"a":["é",1]}'  # compact, not ASCII-escaped
        ws.send_json([1, 2], mode="binary")
        assert ws.receive_bytes() == b"[1,2]"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1000


def test_iterators_end_when_the_client_leaves() -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            got.append(text)
            if text == "switch":
                break
        async for data in ws.iter_json():
            got.append(data)

    with connect_to(handler) as ws:
        ws.send_text("a")
        ws.send_text("switch")
        ws.send_json({"n": 1})
    assert got == ["a", "switch", {"n": 1}]


def test_iter_bytes() -> None:
    got: list[bytes] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for data in ws.iter_bytes():
            got.append(data)

    with connect_to(handler) as ws:
        ws.send_bytes(b"1")
        ws.send_bytes(b"2")
    assert got == [b"1", b"2"]


def test_accept_with_subprotocol_and_headers() -> None:
    async def handler(ws: WebSocket) -> None:
        offered = ws.scope["subprotocols"]
        await ws.accept(subprotocol=offered[-1], headers=[(b"x-server", b"asgiforge")])
        await ws.close()

    with connect_to(handler, subprotocols=["v1", "v2"]) as ws:
        assert ws.accepted_subprotocol == "v2"
        assert ws.extra_headers == [(b"x-server", b"asgiforge")]


def test_connection_details_like_a_request() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json(
            {
                "url": str(ws.url),
                "q": ws.query_params["q"],
                "h": ws.headers["x-h"],
                "c": ws.cookies["c"],
            }
        )
        ws.state.seen = True
        await ws.close()

    client = TestClient(ws_app(handler), cookies={"c": "cookie"})
    with client.websocket_connect("/room?q=1", headers={"x-h": "header"}) as ws:
        data = ws.receive_json()
    assert data == {"url": "ws://testserver/room?q=1", "q": "1", "h": "header", "c": "cookie"}


def test_states_follow_the_conversation() -> None:
    states: list[tuple[str, str]] = []

    def snap(ws: WebSocket) -> None:
        states.append((ws.client_state.name, ws.application_state.name))

    async def handler(ws: WebSocket) -> None:
        snap(ws)
        await ws.accept()
        snap(ws)
        try:
            await ws.receive_text()
        except WebSocketDisconnect:
            snap(ws)

    with connect_to(handler):
        pass
    assert states == [
        ("CONNECTING", "CONNECTING"),
        ("CONNECTED", "CONNECTED"),
        ("DISCONNECTED", "CONNECTED"),
    ]
    assert WebSocketState.RESPONSE.value == 3


@pytest.mark.parametrize(
    ("misuse", "message"),
    [
        ("send_before_accept", "accept"),
        ("accept_twice", "websocket.send"),
        ("receive_after_disconnect", "disconnect message has been received"),
        ("send_after_close", "close message has been sent"),
        ("bad_json_mode", "mode"),
    ],
)
def test_misuse_fails_with_a_clear_runtime_error(misuse: str, message: str) -> None:
    errors: list[Exception] = []

    async def handler(ws: WebSocket) -> None:
        try:
            if misuse == "send_before_accept":
                await ws.send_text("too early")
            await ws.accept()
            if misuse == "accept_twice":
                await ws.accept()
            if misuse == "receive_after_disconnect":
                await ws.receive()
                await ws.receive()
            if misuse == "send_after_close":
                await ws.close()
                await ws.send_text("too late")
            if misuse == "bad_json_mode":
                await ws.send_json({}, mode="yaml")  # type: ignore[arg-type]
        except RuntimeError as exc:
            errors.append(exc)
            if ws.application_state is WebSocketState.CONNECTING:
                await ws.close()

    client = TestClient(ws_app(handler))
    try:
        with client.websocket_connect("/") as ws:
            if misuse == "receive_after_disconnect":
                ws.close()
    except WebSocketDisconnect:
        pass
    assert len(errors) == 1
    assert message in str(errors[0])
    # Using a finished connection has its own RuntimeError subclass, as in Starlette 1.x.
    finished = misuse in ("receive_after_disconnect", "send_after_close")
    assert isinstance(errors[0], WebSocketDisconnected) is finished


def test_receive_text_before_accept_is_refused() -> None:
    errors: list[Exception] = []

    async def handler(ws: WebSocket) -> None:
        try:
            await ws.receive_text()
        except RuntimeError as exc:
            errors.append(exc)
        await ws.close()

    with pytest.raises(WebSocketDisconnect), connect_to(handler):
        pass
    assert 'Need to call "accept" first' in str(errors[0])


def test_close_code_and_reason_reach_the_client() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(code=4003, reason="bye")

    with connect_to(handler) as ws, pytest.raises(WebSocketDisconnect) as info:
        ws.receive_text()
    assert (info.value.code, info.value.reason) == (4003, "bye")


def test_client_close_code_reaches_the_handler() -> None:
    seen: list[tuple[int, str]] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_text()
        except WebSocketDisconnect as exc:
            seen.append((exc.code, exc.reason))

    with connect_to(handler) as ws:
        ws.close(4100, "done")
    assert seen == [(4100, "done")]


def test_send_to_a_gone_client_raises_disconnect_1006() -> None:
    seen: list[int] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive()  # the disconnect
        try:
            await ws.send({"type": "websocket.send", "text": "x"})
        except WebSocketDisconnect as exc:
            seen.append(exc.code)

    with connect_to(handler):
        pass
    assert seen == [1006]


def test_close_after_the_client_left_is_harmless() -> None:
    """The seed's `except Exception: await websocket.close(code=1011)` after a disconnect."""
    states: list[WebSocketState] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_text()
        except WebSocketDisconnect:
            await ws.close(code=1011)
            states.append(ws.application_state)

    with connect_to(handler):
        pass
    assert states == [WebSocketState.DISCONNECTED]


def test_denial_response() -> None:
    from asgiforge.runtime.responses import PlainTextResponse

    async def handler(ws: WebSocket) -> None:
        await ws.send_denial_response(PlainTextResponse("go away", status_code=403))

    with pytest.raises(WebSocketDenialResponse) as info, connect_to(handler):
        pass
    assert info.value.status_code == 403
    assert info.value.text == "go away"


def test_denial_without_server_support_is_a_clear_error() -> None:
    from asgiforge.runtime.responses import PlainTextResponse

    errors: list[Exception] = []

    async def handler(ws: WebSocket) -> None:
        try:
            await ws.send_denial_response(PlainTextResponse("no", status_code=403))
        except RuntimeError as exc:
            errors.append(exc)
        await ws.close(code=1008)

    inner = ws_app(handler)

    async def without_extension(scope: Scope, receive: Receive, send: Send) -> None:
        await inner({**scope, "extensions": {}}, receive, send)

    client = TestClient(without_extension)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass
    assert not isinstance(info.value, WebSocketDenialResponse)
    assert info.value.code == 1008
    assert len(errors) == 1
    assert "doesn't support the Websocket Denial Response extension" in str(errors[0])


@pytest.mark.parametrize("method", ["receive_text", "receive_bytes", "receive_json"])
def test_receiving_before_accept_is_websocket_disconnected(method: str) -> None:
    async def handler(ws: WebSocket) -> None:
        await getattr(ws, method)()

    client = TestClient(ws_app(handler))
    with (
        pytest.raises(WebSocketDisconnected, match='Need to call "accept" first'),
        client.websocket_connect("/"),
    ):
        pass  # pragma: no cover - the handshake already fails


def test_handshake_headers_match_starlettes_client() -> None:
    async def handler(ws: WebSocket) -> None:
        headers = dict(ws.headers)
        await ws.accept()
        await ws.send_json(headers)
        await ws.close()

    with TestClient(ws_app(handler)).websocket_connect("/") as session:
        headers = session.receive_json()
    assert headers["connection"] == "upgrade"
    assert headers["sec-websocket-version"] == "13"
    assert "upgrade" not in headers


def test_websocket_close_app() -> None:
    client = TestClient(WebSocketClose(code=4400, reason="closed"))
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass
    assert (info.value.code, info.value.reason) == (4400, "closed")


def test_exception_types() -> None:
    assert (WebSocketDisconnect().code, WebSocketDisconnect().reason) == (1000, "")
    assert WebSocketDisconnect(1001, "away").reason == "away"
    with pytest.raises(ValueError, match="websocket"):
        WebSocket({"type": "http"}, None, None)  # type: ignore[arg-type]


# -- for real: uvicorn on 127.0.0.1 + the `websockets` client ----------------------------------


async def json_echo(ws: WebSocket) -> None:
    """The seed's endpoint: echo JSON, answer "ping" actions with "pong", 1011 on bad input."""
    await ws.accept()
    try:
        while True:
            data = await ws.receive_json()
            result = "pong" if data.get("action") == "ping" else data
            await ws.send_json({"result": result})
    except WebSocketDisconnect:
        raise
    except Exception:
        await ws.close(code=1011)


def test_real_json_echo() -> None:
    with serve_in_thread(ws_app(json_echo)) as (_, host), connect(f"ws://{host}/ws") as client:
        client.send('{"action": "ping"}')
        assert client.recv(timeout=5) == '{"result":"pong"}'
        client.send('{"x": [1, 2]}')
        assert client.recv(timeout=5) == '{"result":{"x":[1,2]}}'
        client.send("not json")
        with pytest.raises(ConnectionClosed) as info:
            client.recv(timeout=5)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1011


def test_real_subprotocol_negotiation_and_headers() -> None:
    async def handler(ws: WebSocket) -> None:
        chosen = "graphql-ws" if "graphql-ws" in ws.scope["subprotocols"] else None
        await ws.accept(subprotocol=chosen, headers=[(b"x-server", b"asgiforge")])
        await ws.send_text(ws.headers.get("x-client", ""))
        await ws.close()

    with (
        serve_in_thread(ws_app(handler)) as (_, host),
        connect(
            f"ws://{host}/",
            subprotocols=["chat", "graphql-ws"],  # type: ignore[list-item]
            additional_headers={"x-client": "pytest"},
        ) as client,
    ):
        assert client.subprotocol == "graphql-ws"
        assert client.response is not None
        assert client.response.headers["x-server"] == "asgiforge"
        assert client.recv(timeout=5) == "pytest"


def test_real_close_code_and_reason() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        await ws.close(code=4001, reason="policy")

    with serve_in_thread(ws_app(handler)) as (_, host), connect(f"ws://{host}/") as client:
        client.send("hi")
        with pytest.raises(ConnectionClosed) as info:
            client.recv(timeout=5)
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "policy")


def test_real_message_over_ws_max_size_closes_1009() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            await ws.send_text(str(len(text)))

    app = ws_app(handler)
    with serve_in_thread(app, ws_max_size=1024) as (_, host), connect(f"ws://{host}/") as client:
        client.send("x" * 1000)
        assert client.recv(timeout=5) == "1000"
        client.send("x" * 4096)
        with pytest.raises(ConnectionClosed) as info:
            client.recv(timeout=5)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1009


def test_real_denial_response() -> None:
    from asgiforge.runtime.responses import PlainTextResponse

    async def handler(ws: WebSocket) -> None:
        await ws.send_denial_response(PlainTextResponse("nope", status_code=401))

    with (
        serve_in_thread(ws_app(handler)) as (_, host),
        pytest.raises(InvalidStatus) as info,
        connect(f"ws://{host}/", open_timeout=5),
    ):
        pass
    assert info.value.response.status_code == 401
    assert info.value.response.body == b"nope"


def test_real_client_vanishing_mid_conversation() -> None:
    """The handler sees WebSocketDisconnect, finishes, and uvicorn holds no task for it."""
    outcome: list[str] = []
    finished = threading.Event()

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                data = await ws.receive_json()
                await ws.send_json({"result": data})
        except WebSocketDisconnect:
            outcome.append("disconnect")
        finally:
            finished.set()

    with serve_in_thread(ws_app(handler)) as (server, host):
        with connect(f"ws://{host}/") as client:
            client.send('{"n": 1}')
            assert client.recv(timeout=5) == '{"result":{"n":1}}'
            client.socket.close()  # no close frame: the peer just disappears
        assert finished.wait(10), "the handler never noticed the client was gone"
        deadline = time.monotonic() + 10
        while server.server_state.tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not server.server_state.tasks
        assert not server.server_state.connections
    assert outcome == ["disconnect"]


# -- with routing, endpoints and exception handlers ---------------------------------------------


async def crashing_handler(ws: WebSocket) -> None:
    await ws.accept()
    await ws.receive_text()
    raise RuntimeError("handler bug")


def routed_app() -> Any:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.exceptions import WebSocketException
    from asgiforge.runtime.routing import Mount, WebSocketRoute

    async def refuse(ws: WebSocket) -> None:
        raise WebSocketException(code=4403, reason="members only")

    async def echo_path(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"params": ws.path_params, "url": str(ws.url_for("room", name="x"))})
        await ws.close()

    return App(
        routes=[
            WebSocketRoute("/crash", crashing_handler),
            WebSocketRoute("/refuse", refuse),
            Mount("/chat", routes=[WebSocketRoute("/{name}", echo_path, name="room")]),
        ]
    )


def test_routed_exception_closes_1011_then_raises_in_the_test() -> None:
    with (
        TestClient(routed_app()) as client,
        pytest.raises(RuntimeError, match="handler bug"),
        client.websocket_connect("/crash") as ws,
    ):
        ws.send_text("boom")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1011


def test_routed_websocket_exception_and_mount() -> None:
    with TestClient(routed_app()) as client:
        with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/refuse"):
            pass
        assert (info.value.code, info.value.reason) == (4403, "members only")
        with client.websocket_connect("/chat/lobby") as ws:
            data = ws.receive_json()
        assert data == {"params": {"name": "lobby"}, "url": "ws://testserver/chat/x"}
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/nowhere"):
            pass


def test_websocket_endpoint_class() -> None:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.endpoints import WebSocketEndpoint
    from asgiforge.runtime.routing import WebSocketRoute

    log: list[Any] = []

    class Echo(WebSocketEndpoint):
        encoding = "json"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_json({"echo": data})

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            log.append(close_code)

    client = TestClient(App(routes=[WebSocketRoute("/ws", Echo)]))
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"a": 1})
        assert ws.receive_json() == {"echo": {"a": 1}}
    assert log == [1000]


def test_real_routed_exception_closes_1011() -> None:
    with (
        serve_in_thread(routed_app()) as (_, host),
        connect(f"ws://{host}/crash") as client,
    ):
        client.send("boom")
        with pytest.raises(ConnectionClosed) as info:
            client.recv(timeout=5)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1011


@pytest.mark.anyio
async def test_an_idle_receive_waits_in_one_frame_on_the_servers_receive() -> None:
    """Memory per open socket: `receive_text()` is one coroutine, and while connected it awaits
    the server's `receive` directly (no `receive()` or helper frame in between)."""
    import inspect

    from asgiforge.runtime.websockets import WebSocket, WebSocketState

    waiting: list[Any] = []

    async def server_receive() -> dict[str, Any]:
        caller = inspect.currentframe().f_back  # type: ignore[union-attr]
        waiting.append(caller.f_code if caller else None)
        return {"type": "websocket.receive", "text": "hi"}

    async def send(message: dict[str, Any]) -> None:
        pass

    scope = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}
    websocket = WebSocket(scope, receive=server_receive, send=send)
    websocket.client_state = websocket.application_state = WebSocketState.CONNECTED
    pending = websocket.receive_text()
    assert pending.cr_code is WebSocket.receive_text.__code__
    assert await pending == "hi"
    assert waiting == [WebSocket.receive_text.__code__]
    with pytest.raises(RuntimeError, match="sent text"):
        await websocket.receive_bytes()
    assert waiting[-1] is WebSocket.receive_bytes.__code__


@pytest.mark.anyio
async def test_send_text_and_bytes_are_one_coroutine_each() -> None:
    """One coroutine per message sent, not two: send_text awaits the server's send itself."""
    import inspect

    from asgiforge.runtime.websockets import WebSocket, WebSocketState

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("not called")

    callers: list[Any] = []

    async def send(message: dict[str, Any]) -> None:
        caller = inspect.currentframe().f_back  # type: ignore[union-attr]
        callers.append(caller.f_code if caller else None)
        sent.append(message)

    scope = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}
    websocket = WebSocket(scope, receive=receive, send=send)
    websocket.client_state = websocket.application_state = WebSocketState.CONNECTED
    await websocket.send_text("hi")
    await websocket.send_bytes(b"\x00")
    assert callers == [WebSocket.send_text.__code__, WebSocket.send_bytes.__code__]
    assert sent == [
        {"type": "websocket.send", "text": "hi"},
        {"type": "websocket.send", "bytes": b"\x00"},
    ]


@pytest.mark.anyio
async def test_a_subclass_overriding_receive_and_send_is_still_called() -> None:
    """The per-message short paths skip `receive()`/`send()` only when they are our own."""
    from asgiforge.runtime.websockets import WebSocket, WebSocketState

    seen: list[str] = []

    class Logged(WebSocket):  # type: ignore[type-arg]
        async def receive(self) -> dict[str, Any]:
            seen.append("receive")
            return await super().receive()

        async def send(self, message: dict[str, Any]) -> None:
            seen.append("send")
            await super().send(message)

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.receive", "text": "hi"}

    async def send(message: dict[str, Any]) -> None:
        pass

    scope = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}
    websocket = Logged(scope, receive=receive, send=send)
    websocket.client_state = websocket.application_state = WebSocketState.CONNECTED
    assert await websocket.receive_text() == "hi"
    await websocket.send_text("hi")
    await websocket.send_bytes(b"x")
    assert seen == ["receive", "send", "send"]
