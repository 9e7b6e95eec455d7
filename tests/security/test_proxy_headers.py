"""Proxy headers under the default `serve` configuration: only a loopback peer (a proxy on this
machine) is believed, so a client elsewhere cannot choose its address, scheme or host, and a
client behind the proxy cannot pose as a trusted hop.

The untrusted client connects from 127.0.0.2: another address than the trusted 127.0.0.1, while
all traffic stays on the loopback interface.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from tests.security.conftest import Server, get

SPOOF = (
    "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n"
    "X-Forwarded-Host: evil.example\r\nForwarded: for=6.6.6.6;proto=https;host=evil.example\r\n"
)


def url_seen_from(server: Server, source: str, extra: str) -> dict[str, Any]:
    """GET /url from the local address `source`; what the app saw (its URL and client)."""
    deadline = time.monotonic() + 5
    received = bytearray()
    address = ("127.0.0.1", server.port)
    with socket.create_connection(address, timeout=5, source_address=(source, 0)) as sock:
        sock.sendall(get("/url", extra=extra))
        while time.monotonic() < deadline:
            piece = sock.recv(65536)
            if not piece:
                break
            received += piece
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head[:200]
    return json.loads(body)  # type: ignore[no-any-return]


def test_a_peer_that_is_not_a_trusted_proxy_cannot_spoof_anything(server: Server) -> None:
    seen = url_seen_from(server, "127.0.0.2", SPOOF)
    assert seen["url"] == "http://testserver/url"
    assert seen["client"] == "127.0.0.2"


def test_a_loopback_proxy_is_believed_but_not_about_the_host(server: Server) -> None:
    seen = url_seen_from(server, "127.0.0.1", SPOOF)
    assert seen["url"] == "https://testserver/url"  # Host stays: --forwarded-host is opt-in
    assert seen["client"] == "6.6.6.6"


def test_a_client_behind_the_proxy_cannot_pose_as_a_trusted_hop(server: Server) -> None:
    # The client wrote "127.0.0.1" (and a Forwarded header); the proxy appended what it saw.
    extra = (
        "X-Forwarded-For: 127.0.0.1, 198.51.100.7\r\n"
        "Forwarded: for=127.0.0.1\r\n"
        "X-Forwarded-Proto: https\r\n"
    )
    seen = url_seen_from(server, "127.0.0.1", extra)
    assert seen["client"] == "198.51.100.7"


def test_a_malformed_forwarded_header_is_ignored_not_a_500(server: Server) -> None:
    seen = url_seen_from(server, "127.0.0.1", 'Forwarded: for="[::1;proto=https\r\n')
    assert seen["url"] == "http://testserver/url"
    assert seen["client"] == "127.0.0.1"
