"""HTTPSRedirectMiddleware: http→https, ws→wss, default ports dropped, hostile Host ignored."""

from __future__ import annotations

import pytest

from asgiforge.runtime.middleware.httpsredirect import HTTPSRedirectMiddleware
from tests.runtime.middleware._asgi import Recorder, call, client, header, http_scope, text_app

pytestmark = pytest.mark.anyio


async def test_http_is_redirected_to_https_with_path_and_query() -> None:
    app = HTTPSRedirectMiddleware(text_app(b"ok"))
    async with client(app, "http://example.com") as c:
        response = await c.get("/items/1?x=2", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "https://example.com/items/1?x=2"


async def test_https_request_passes_through() -> None:
    app = HTTPSRedirectMiddleware(text_app(b"ok"))
    async with client(app, "https://example.com") as c:
        response = await c.get("/")
    assert response.status_code == 200
    assert response.text == "ok"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com:80", "https://example.com/p"),
        ("example.com:443", "https://example.com/p"),
        ("example.com:8080", "https://example.com:8080/p"),
        ("example.com:000080", "https://example.com/p"),
        ("[::1]:8443", "https://[::1]:8443/p"),
    ],
)
async def test_default_ports_dropped(host: str, expected: str) -> None:
    app = HTTPSRedirectMiddleware(text_app())
    sent = await call(app, http_scope("/p", headers=[("host", host)]))
    assert header(sent[0], "location") == expected


async def test_websocket_is_redirected_to_wss() -> None:
    app = HTTPSRedirectMiddleware(text_app())
    scope = http_scope("/ws", kind="websocket", scheme="ws", headers=[("host", "example.com")])
    scope["extensions"] = {"websocket.http.response": {}}
    sent = await call(app, scope)
    assert sent[0]["type"] == "websocket.http.response.start"
    assert header(sent[0], "location") == "wss://example.com/ws"
    # Without the denial-response extension the handshake is refused.
    scope["extensions"] = {}
    sent = await call(app, scope)
    assert sent[0]["type"] == "websocket.close"


@pytest.mark.parametrize(
    "host",
    [
        "evil.com/x",
        "@evil.com",
        "example.com:1@evil.com",
        "a b",
        "//evil.com",
        "x\\y",
        "[:::]",  # not an IPv6 address
        "example.com:65536",  # no such port
    ],
)
async def test_hostile_host_never_reaches_location(host: str) -> None:
    app = HTTPSRedirectMiddleware(text_app())
    sent = await call(app, http_scope("/p", headers=[("host", host)], server=("10.0.0.5", 80)))
    location = header(sent[0], "location")
    assert location == "https://10.0.0.5/p"


@pytest.mark.parametrize("host", ["evil.com/x", "[:::]", "example.com:65536"])
async def test_hostile_host_without_server_address_is_400(host: str) -> None:
    app = HTTPSRedirectMiddleware(text_app())
    sent = await call(app, http_scope("/p", headers=[("host", host)], server=None))
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b"Invalid host header"
    assert header(sent[0], "location") is None


async def test_ipv6_server_address_is_bracketed() -> None:
    app = HTTPSRedirectMiddleware(text_app())
    sent = await call(app, http_scope("/p", headers=[("host", "[:::]")], server=("::1", 80)))
    assert header(sent[0], "location") == "https://[::1]/p"


async def test_path_starting_with_double_slash_stays_on_host() -> None:
    app = HTTPSRedirectMiddleware(text_app())
    sent = await call(app, http_scope("//evil.com/x", headers=[("host", "example.com")]))
    location = header(sent[0], "location")
    assert location == "https://example.com//evil.com/x"


async def test_lifespan_passes_through() -> None:
    inner = Recorder()

    async def receive() -> dict[str, object]:
        return {}

    async def send(message: object) -> None:
        pass

    await HTTPSRedirectMiddleware(inner)({"type": "lifespan"}, receive, send)
    assert inner.scopes == [{"type": "lifespan"}]
