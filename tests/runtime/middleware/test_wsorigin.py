"""WebSocketOriginMiddleware: which handshakes pass, how refusals look, HTTP passes through."""

from __future__ import annotations

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.wsorigin import WebSocketOriginMiddleware
from asgiforge.runtime.responses import PlainTextResponse
from asgiforge.runtime.routing import Route, WebSocketRoute
from asgiforge.runtime.testclient import TestClient, WebSocketDenialResponse
from asgiforge.runtime.websockets import WebSocket, WebSocketDisconnect


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


async def page(request: object) -> PlainTextResponse:
    return PlainTextResponse("page")


def make_app(**options: object) -> App:
    return App(
        routes=[WebSocketRoute("/ws", echo), Route("/", page)],
        middleware=[Middleware(WebSocketOriginMiddleware, **options)],
    )


def mw(**options: object) -> WebSocketOriginMiddleware:
    return WebSocketOriginMiddleware(make_app(), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("https://app.example", "other", True),
        ("HTTPS://APP.EXAMPLE", "other", True),
        ("https://app.example:443", "other", True),
        ("https://app.example:8443", "other", False),
        ("http://app.example", "other", False),
        ("https://app.example.evil.test", "other", False),
        ("https://evil.test", "evil.test", True),  # same origin as the Host
        ("https://evil.test", "evil.test:443", True),
        ("https://evil.test", "evil.test:8443", False),
        ("http://evil.test:8080", "evil.test:8080", True),
        ("https://evil.test", "evil.test/x", False),  # a hostile Host never makes it "same"
        ("https://evil.test", "app.example@evil.test", False),
        ("null", "app.example", False),
        ("file://", "app.example", False),
        ("https://app.example/path", "other", False),
        ("https://user@app.example", "other", False),
        ("not a url", "other", False),
        (None, "other", True),
    ],
)
def test_decisions(origin: str | None, host: str, allowed: bool) -> None:
    assert mw(allowed_origins=["https://app.example"]).is_allowed(origin, host) is allowed


def test_options_change_decisions() -> None:
    strict = mw(allow_same_origin=False, allow_missing_origin=False)
    assert not strict.is_allowed("https://a.test", "a.test")
    assert not strict.is_allowed(None, "a.test")
    regex = mw(allow_origin_regex=r"https://[a-z]+\.app\.example")
    assert regex.is_allowed("https://eu.app.example", "x")
    assert not regex.is_allowed("https://eu.app.example.evil.test", "x")


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(TypeError):
        mw(allowed_origins="https://app.example")
    with pytest.raises(ValueError, match="allowed_origins entries"):
        mw(allowed_origins=["app.example"])


def test_allowed_handshake_reaches_the_endpoint() -> None:
    client = TestClient(make_app(allowed_origins=["https://app.example"]))
    with client.websocket_connect("/ws", headers={"origin": "https://app.example"}) as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"


def test_cross_site_handshake_gets_403() -> None:
    client = TestClient(make_app(allowed_origins=["https://app.example"]))
    connect = client.websocket_connect("/ws", headers={"origin": "https://evil.test"})
    with pytest.raises((WebSocketDenialResponse, WebSocketDisconnect)) as info, connect:
        pass
    if isinstance(info.value, WebSocketDenialResponse):
        assert info.value.status_code == 403
    else:
        assert info.value.code == 1008


def test_http_passes_straight_through() -> None:
    client = TestClient(make_app(allow_same_origin=False, allow_missing_origin=False))
    assert client.get("/", headers={"origin": "https://evil.test"}).text == "page"
