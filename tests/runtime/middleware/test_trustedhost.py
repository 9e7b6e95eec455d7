"""TrustedHostMiddleware: allowed hosts, wildcards, www redirect, and strict Host parsing."""

from __future__ import annotations

import pytest

from asgiforge.runtime.middleware.trustedhost import TrustedHostMiddleware
from tests.runtime.middleware._asgi import Recorder, call, client, header, http_scope, text_app

pytestmark = pytest.mark.anyio


def make(**kwargs: object) -> TrustedHostMiddleware:
    return TrustedHostMiddleware(text_app(b"ok"), **kwargs)  # type: ignore[arg-type]


async def status_for(app: TrustedHostMiddleware, host: str | None) -> int:
    headers = [("host", host)] if host is not None else []
    sent = await call(app, http_scope(headers=headers))
    return int(sent[0]["status"])


async def test_allowed_exact_and_wildcard_hosts_pass() -> None:
    app = make(allowed_hosts=["example.com", "*.example.org"])
    async with client(app, "http://example.com") as c:
        assert (await c.get("/")).text == "ok"
    assert await status_for(app, "example.com:8000") == 200
    assert await status_for(app, "EXAMPLE.com") == 200
    assert await status_for(app, "api.example.org") == 200
    assert await status_for(app, "a.b.example.org") == 200


async def test_unlisted_host_is_400() -> None:
    app = make(allowed_hosts=["example.com", "*.example.org"])
    async with client(app, "http://evil.com") as c:
        response = await c.get("/")
    assert response.status_code == 400
    assert response.text == "Invalid host header"
    # A wildcard covers subdomains only, not the bare domain or a lookalike suffix.
    assert await status_for(app, "example.org") == 400
    assert await status_for(app, "evilexample.org") == 400
    assert await status_for(app, None) == 400


@pytest.mark.parametrize(
    "host",
    [
        "example.com:1@evil.com",
        "evil.com/.example.com",
        "evil.com?.example.com",
        "evil.com#.example.com",
        "evil.com\\.example.com",
        "evil .example.com",
        "example.com ",
        "@example.com",
        "user@example.com",
        "example.com:80:80",
        "example.com:",
        "example.com:abc",
        "ex%61mple.com",
        "evil.com!.example.com",  # RFC 3986 sub-delimiters are no part of a host name
        "evil.com;.example.com",
        "",
        "a" * 400 + ".example.com",
    ],
)
async def test_hostile_host_headers_are_400(host: str) -> None:
    app = make(allowed_hosts=["example.com", "*.example.com"])
    assert await status_for(app, host) == 400


async def test_ipv6_literal_is_parsed() -> None:
    app = make(allowed_hosts=["[::1]", "[v1.foo]"])
    assert await status_for(app, "[::1]:8000") == 200
    assert await status_for(app, "[v1.foo]") == 200  # RFC 3986 IPvFuture
    assert await status_for(app, "[::1]@evil") == 400
    assert await status_for(app, "[:::]") == 400  # not an IPv6 address
    assert await status_for(app, "[::ffff:999.999.999.999]") == 400


async def test_only_the_host_is_judged_not_the_port() -> None:
    # As in Starlette: any digits are a port (RFC 3986), the allow-list is about names.
    app = make(allowed_hosts=["example.com"])
    for host in ("example.com:000080", "example.com:99999"):
        assert await status_for(app, host) == 200, host


async def test_www_redirect_keeps_path_and_query() -> None:
    app = make(allowed_hosts=["www.example.com"])
    sent = await call(
        app, http_scope("/a b", headers=[("host", "example.com:8080")], query_string=b"x=1")
    )
    assert sent[0]["status"] == 307
    assert header(sent[0], "location") == "http://www.example.com:8080/a%20b?x=1"


async def test_www_redirect_can_be_disabled() -> None:
    app = make(allowed_hosts=["www.example.com"], www_redirect=False)
    assert await status_for(app, "example.com") == 400


async def test_default_allows_any_host() -> None:
    assert await status_for(make(), "whatever.invalid") == 200


async def test_bad_wildcard_pattern_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match=r"\*\.example\.com"):
        make(allowed_hosts=["example.*"])
    with pytest.raises(TypeError):
        make(allowed_hosts="example.com")


async def test_websocket_from_untrusted_host_is_closed() -> None:
    app = make(allowed_hosts=["example.com"])
    sent = await call(app, http_scope(kind="websocket", headers=[("host", "evil.com")]))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Invalid host header"}]


async def test_other_scope_types_pass_through() -> None:
    inner = Recorder()
    app = TrustedHostMiddleware(inner, allowed_hosts=["example.com"])

    async def receive() -> dict[str, object]:
        return {}

    async def send(message: object) -> None:
        pass

    await app({"type": "lifespan"}, receive, send)
    assert inner.scopes == [{"type": "lifespan"}]
