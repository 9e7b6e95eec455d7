"""CORSMiddleware: simple and preflight requests, origin matching, and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from asgiforge.runtime.middleware.cors import CORSMiddleware
from tests.runtime.middleware._asgi import Recorder, call, client, header, http_scope, text_app

pytestmark = pytest.mark.anyio

PREFLIGHT = {"access-control-request-method": "GET"}
PREFLIGHT_VARY = (
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    "Access-Control-Request-Private-Network"
)


def make(inner: Any = None, **kwargs: Any) -> CORSMiddleware:
    return CORSMiddleware(inner or text_app(b"ok"), **kwargs)


async def test_simple_request_from_allowed_origin_echoes_it_with_vary() -> None:
    app = make(
        text_app(b"ok", headers=[(b"vary", b"Accept-Encoding")]),
        allow_origins=["https://a.com"],
        allow_credentials=True,
        expose_headers=["X-Total"],
    )
    async with client(app) as c:
        response = await c.get("/", headers={"origin": "https://a.com"})
    assert response.text == "ok"
    assert response.headers["access-control-allow-origin"] == "https://a.com"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "X-Total"
    assert response.headers["vary"] == "Accept-Encoding, Origin"


async def test_simple_request_from_other_origin_gets_no_cors_headers() -> None:
    app = make(allow_origins=["https://a.com"], allow_credentials=True)
    async with client(app) as c:
        response = await c.get("/", headers={"origin": "https://evil.com"})
    assert response.status_code == 200
    assert not [k for k in response.headers if k.startswith("access-control-")]


async def test_every_response_varies_on_origin() -> None:
    # Whether a response carries CORS headers depends on Origin, so a cache must key on it:
    # with a wildcard, for a refused origin, and for a request without Origin alike.
    app = make(allow_origins=["*"])
    async with client(app) as c:
        response = await c.get("/", headers={"origin": "https://x.com"})
        bare = await c.get("/")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in bare.headers
    assert bare.headers["vary"] == "Origin"

    app = make(allow_origins=["https://a.com"])
    async with client(app) as c:
        refused = await c.get("/", headers={"origin": "https://evil.com"})
    assert refused.headers["vary"] == "Origin"


async def test_several_vary_headers_become_one() -> None:
    headers = [(b"vary", b"Accept-Encoding"), (b"Vary", b"Accept-Language")]
    app = make(text_app(b"ok", headers=headers), allow_origins=["https://a.com"])
    sent = await call(app, http_scope(headers=[("origin", "https://a.com")]))
    vary = [v for k, v in sent[0]["headers"] if k.lower() == b"vary"]
    assert vary == [b"Accept-Encoding, Accept-Language, Origin"]


async def test_preflight_allowed() -> None:
    app = make(
        allow_origins=["https://a.com"],
        allow_methods=["GET", "POST"],
        allow_headers=["X-Token"],
        allow_credentials=True,
        max_age=77,
    )
    async with client(app) as c:
        response = await c.options(
            "/",
            headers={
                "origin": "https://a.com",
                "access-control-request-method": "POST",
                "access-control-request-headers": "X-Token, content-type",
            },
        )
    assert response.status_code == 200
    assert response.text == "OK"
    assert response.headers["access-control-allow-origin"] == "https://a.com"
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert response.headers["access-control-max-age"] == "77"
    assert response.headers["access-control-allow-credentials"] == "true"
    # Advertised with the configured casing, sorted, safelisted headers included.
    assert response.headers["access-control-allow-headers"] == (
        "Accept, Accept-Language, Content-Language, Content-Type, X-Token"
    )
    assert response.headers["vary"] == PREFLIGHT_VARY


async def test_preflight_wildcards_for_methods_and_headers() -> None:
    app = make(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    async with client(app) as c:
        response = await c.options(
            "/",
            headers={
                "origin": "https://x.com",
                "access-control-request-method": "QUERY",
                "access-control-request-headers": "X-Anything",
            },
        )
        custom = await c.options(
            "/", headers={"origin": "https://x.com", "access-control-request-method": "CUSTOM"}
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "QUERY" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "X-Anything"  # echoed as sent
    # "*" means the standard methods, not any token a page makes up.
    assert custom.status_code == 400
    assert custom.text == "Disallowed CORS method"
    assert custom.headers["vary"] == PREFLIGHT_VARY


@pytest.mark.parametrize(
    ("origin", "method", "req_headers", "problem"),
    [
        ("https://evil.com", "GET", None, "origin"),
        ("https://a.com", "DELETE", None, "method"),
        ("https://a.com", "GET", "X-Secret", "headers"),
    ],
)
async def test_refused_preflight_is_400_and_never_allows_a_refused_origin(
    origin: str, method: str, req_headers: str | None, problem: str
) -> None:
    inner = Recorder()
    app = make(inner, allow_origins=["https://a.com"], allow_credentials=True)
    headers = {"origin": origin, "access-control-request-method": method}
    if req_headers:
        headers["access-control-request-headers"] = req_headers
    async with client(app) as c:
        response = await c.options("/", headers=headers)
    assert response.status_code == 400
    assert response.text == f"Disallowed CORS {problem}"
    assert response.headers["vary"] == PREFLIGHT_VARY
    if problem == "origin":
        assert "access-control-allow-origin" not in response.headers
    assert inner.scopes == []


async def test_plain_options_without_request_method_reaches_app() -> None:
    inner = Recorder()
    app = make(inner, allow_origins=["https://a.com"])
    async with client(app) as c:
        response = await c.options("/", headers={"origin": "https://a.com"})
    assert response.status_code == 200
    assert len(inner.scopes) == 1


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example.com", True),
        ("https://example.com.evil.net", False),
        ("https://app.example.com.evil.net", False),
        ("xhttps://app.example.com", False),
    ],
)
async def test_origin_regex_is_fully_anchored(origin: str, allowed: bool) -> None:
    app = make(allow_origin_regex=r"https://[a-z]+\.example\.com")
    sent = await call(app, http_scope(headers=[("origin", origin)]))
    assert (header(sent[0], "access-control-allow-origin") == origin) is allowed
    sent = await call(
        app,
        http_scope(method="OPTIONS", headers=[("origin", origin), *PREFLIGHT.items()]),
    )
    assert (sent[0]["status"] == 200) is allowed


async def test_wildcard_with_credentials_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="allow_credentials"):
        make(allow_origins=["*"], allow_credentials=True)


async def test_string_instead_of_list_is_refused() -> None:
    with pytest.raises(TypeError, match="allow_origins"):
        make(allow_origins="https://a.com")


async def test_websocket_scope_passes_through() -> None:
    inner = Recorder()
    app = make(inner, allow_origins=["https://a.com"])
    await call(app, http_scope(kind="websocket", headers=[("origin", "https://evil.com")]))
    assert inner.scopes[0]["type"] == "websocket"


async def test_private_network_preflight_refused_unless_allowed() -> None:
    asks = {
        "origin": "https://a.com",
        **PREFLIGHT,
        "access-control-request-private-network": "true",
    }
    async with client(make(allow_origins=["https://a.com"])) as c:
        refused = await c.options("/", headers=asks)
        plain = await c.options("/", headers={"origin": "https://a.com", **PREFLIGHT})
    assert refused.status_code == 400
    assert refused.text == "Disallowed CORS private-network"
    assert "access-control-allow-private-network" not in refused.headers
    assert plain.status_code == 200
    assert "access-control-allow-private-network" not in plain.headers

    app = make(allow_origins=["https://a.com"], allow_private_network=True)
    assert app.allow_private_network is True
    async with client(app) as c:
        allowed = await c.options("/", headers=asks)
        plain = await c.options("/", headers={"origin": "https://a.com", **PREFLIGHT})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-private-network"] == "true"
    assert "access-control-allow-private-network" not in plain.headers


def test_private_network_is_the_sixth_positional_option_as_in_starlette() -> None:
    app = CORSMiddleware(text_app(b"ok"), ["https://a.com"], ["GET"], [], False, None, True)
    assert app.allow_private_network is True
