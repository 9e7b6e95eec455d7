"""Host header and request target: the app's `request.url` never names another host or path
than the one routed (proxy headers: `test_proxy_headers.py`)."""

from __future__ import annotations

import json

import pytest

from tests.security.conftest import Server, get, marker

HOSTILE_HOSTS = [
    "testserver@evil.example",
    "testserver:80@evil.example",
    "evil.example/admin?",
    "evil.example/.testserver",
    "evil.example?.testserver",
    "evil.example#.testserver",
    "evil.example testserver",
    "evil.example\\testserver",
    "evil.example:99999",
    "evil.example:80:80",
    "[::1",
    "%65vil.example",
]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_hostile_host_values_are_refused(server: Server, host: str) -> None:
    tag = marker()
    reply = server.send(get(f"/url?{tag}", host=host))
    assert reply.status == 400, reply.raw[:300]
    assert reply.closed
    assert server.reached_app(tag) == []


@pytest.mark.parametrize("host", ["testserver", "testserver:8080", "127.0.0.1:1", "[::1]:80"])
def test_valid_hosts_make_a_url_on_that_host_and_the_routed_path(server: Server, host: str) -> None:
    reply = server.send(get("/url?x=1", host=host))
    assert reply.status == 200, reply.raw[:300]
    data = json.loads(reply.body)
    assert data["url"] == f"http://{host}/url?x=1"
    assert data["path"] == data["scope_path"] == "/url"


TARGETS = [
    "url",
    "http://evil.example/url",
    "//evil.example/url@",
    "evil.example:80",
    "*",
]


@pytest.mark.parametrize("target", TARGETS)
def test_targets_without_a_leading_slash_are_refused(server: Server, target: str) -> None:
    tag = marker()
    data = f"GET {target} HTTP/1.1\r\nHost: testserver\r\nX-Tag: {tag}\r\nConnection: close\r\n\r\n"
    reply = server.send(data.encode())
    if target.startswith("//"):
        # Origin-form after all: routed as the path "//evil.example/url@" on *our* host.
        assert reply.status == 404
        assert [hit["path"] for hit in server.reached_app(tag)] == ["//evil.example/url@"]
    else:
        assert reply.status == 400, reply.raw[:300]
        assert server.reached_app(tag) == []


def test_connect_is_refused(server: Server) -> None:
    tag = marker()
    data = f"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\nX-Tag: {tag}\r\n\r\n"
    reply = server.send(data.encode())
    assert reply.status == 400 and reply.closed
    assert server.reached_app(tag) == []


def test_options_star_is_not_a_path(server: Server) -> None:
    reply = server.send(b"OPTIONS * HTTP/1.1\r\nHost: testserver\r\nConnection: close\r\n\r\n")
    assert reply.status in (400, 404, 405), reply.raw[:300]


def test_encoded_slashes_do_not_change_the_host(server: Server) -> None:
    reply = server.send(get("/%2F%2Fevil.example/url"))
    assert reply.status == 404
    reply = server.send(get("/url/..%2F..%2Fevil"))
    assert reply.status == 404
