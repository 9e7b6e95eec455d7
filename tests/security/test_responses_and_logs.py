"""Response splitting and log injection: CR/LF set by the app never splits a response, and
nothing a client puts in a request line writes control characters or extra lines to the log."""

from __future__ import annotations

import time

import pytest

from tests.security.conftest import Server, get, marker

SPLITTERS = ["%0d%0aSet-Cookie:%20evil=1", "%0aSet-Cookie:%20evil=1", "%0dX:1", "a%00b"]


@pytest.mark.parametrize("value", SPLITTERS)
def test_crlf_in_an_app_header_never_splits_the_response(server: Server, value: str) -> None:
    reply = server.send(get(f"/split?v={value}"))
    assert reply.closed
    # uvicorn refuses the header: no response at all rather than a split one (SECURITY.md).
    assert b"evil" not in reply.raw.lower()
    assert reply.status in (None, 500), reply.raw[:300]
    assert b"\r\nx:1" not in reply.raw.lower()
    server.assert_alive()


def _log_after(server: Server, tag: str, timeout: float = 3.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.log()
        if tag in log:
            return log
        time.sleep(0.05)
    return server.log()


INJECTIONS = [
    "/{tag}/%1b[31mred%1b[0m",
    "/{tag}/%0d%0a2026-01-01%2000:00:00%20[1]%20INFO%20uvicorn.access:%20forged",
    "/{tag}/%0aforged",
    "/{tag}/%07%08%7f",
    "/{tag}?q=%1b[2J%0d%0aforged",
    "/{tag}/%c3%a9%e2%80%ae",  # UTF-8, including the right-to-left override
]


@pytest.mark.parametrize("path", INJECTIONS)
def test_encoded_control_characters_stay_encoded_in_the_access_log(
    server: Server, path: str
) -> None:
    tag = marker()
    reply = server.send(get(path.replace("{tag}", tag)))
    assert reply.status == 404
    log = _log_after(server, tag)
    lines = [line for line in log.splitlines() if tag in line]
    assert len(lines) == 1, lines
    # No forged line of its own: "forged" only ever appears inside a request's log line.
    assert all("uvicorn.access" in line for line in log.splitlines() if "forged" in line)
    assert not any(ch in lines[0] for ch in "\x1b\x07\x08\x7f\r\u202e")


RAW = [
    b"GET /{tag}/\x1b[31mred HTTP/1.1\r\nHost: testserver\r\n\r\n",
    b"GET /{tag}/\rforged HTTP/1.1\r\nHost: testserver\r\n\r\n",
    b"GET /{tag}/\xff\xfe HTTP/1.1\r\nHost: testserver\r\n\r\n",
    b"GET /{tag}?\x1b[2J HTTP/1.1\r\nHost: testserver\r\n\r\n",
]


@pytest.mark.parametrize("data", RAW)
def test_raw_control_bytes_in_the_target_are_refused_and_not_logged(
    server: Server, data: bytes
) -> None:
    tag = marker()
    reply = server.send(data.replace(b"{tag}", tag.encode()))
    assert reply.status == 400, reply.raw[:300]
    assert reply.closed
    time.sleep(0.2)
    assert tag not in server.log()
    assert "\x1b" not in server.log()
    assert server.reached_app(tag) == []


def test_a_raw_non_ascii_query_is_refused_or_logged_escaped(server: Server) -> None:
    tag = marker()
    reply = server.send(get(f"/{tag}?q=").replace(b"q= ", b"q=\xff\x1b "))
    assert reply.status in (400, 404), reply.raw[:300]
    assert "\x1b" not in server.log()
    server.assert_alive()
