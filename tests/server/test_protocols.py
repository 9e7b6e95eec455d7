"""The hardened protocols' head checks, as a pure function, and the class chosen per --http.

Their behaviour over real sockets is the subject of tests/security."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from asgiforge.server.options import HeadLimits, HTTPOptions
from asgiforge.server.protocols import Rejection, check_head, protocol_class

LIMITS = HeadLimits()
HOST = [(b"host", b"example.com")]


def status(
    headers: list[tuple[bytes, bytes]],
    target: bytes = b"/",
    method: bytes = b"GET",
    version: bytes = b"1.1",
) -> int:
    try:
        check_head(method, target, version, headers, LIMITS)
    except Rejection as rejection:
        return rejection.status
    return 200


def test_ordinary_heads_pass() -> None:
    assert status(HOST) == 200
    assert status([(b"host", b"[::1]:8000")]) == 200
    assert status([], version=b"1.0") == 200
    assert status(HOST, target=b"*", method=b"OPTIONS") == 200
    assert status([*HOST, (b"transfer-encoding", b"gzip, chunked")]) == 200


@pytest.mark.parametrize(
    ("headers", "target", "version", "expected"),
    [
        ([], b"/", b"1.1", 400),
        ([*HOST, *HOST], b"/", b"1.1", 400),
        ([(b"host", b"a.com/x")], b"/", b"1.1", 400),
        (HOST, b"x", b"1.1", 400),
        (HOST, b"*", b"1.1", 400),
        ([*HOST, (b"content-length", b"1"), (b"content-length", b"1")], b"/", b"1.1", 400),
        ([*HOST, (b"content-length", b"1"), (b"transfer-encoding", b"chunked")], b"/", b"1.1", 400),
        ([*HOST, (b"transfer-encoding", b"chunked, gzip")], b"/", b"1.1", 400),
        ([*HOST, (b"transfer-encoding", b"chunked")], b"/", b"1.0", 400),
        (HOST, b"/" + b"a" * LIMITS.max_request_line, b"1.1", 414),
        ([*HOST, (b"x", b"v" * LIMITS.max_header_size)], b"/", b"1.1", 431),
        (HOST * 0 + [(b"host", b"a")] + [(b"x", b"1")] * LIMITS.max_headers, b"/", b"1.1", 431),
        ([*HOST] + [(b"x", b"v" * 8000)] * 9, b"/", b"1.1", 431),
    ],
)
def test_refusals(
    headers: list[tuple[bytes, bytes]], target: bytes, version: bytes, expected: int
) -> None:
    assert status(headers, target=target, version=version) == expected


def test_auto_is_httptools_and_limits_travel_with_the_class() -> None:
    limits = HeadLimits(max_headers=7)
    auto = protocol_class("auto", limits)
    assert "HttpTools" in auto.__name__
    assert auto.limits is limits  # type: ignore[attr-defined]
    assert "H11" in protocol_class("h11", limits).__name__


def test_http_options_hand_uvicorn_the_hardened_class() -> None:
    kwargs = HTTPOptions().uvicorn_kwargs()
    assert isinstance(kwargs["http"], type)
    assert kwargs["h11_max_incomplete_event_size"] == HeadLimits().max_head_size
    assert kwargs["forwarded_allow_ips"] == "" and kwargs["proxy_headers"] is False
    assert kwargs["ws_max_size"] == 1024 * 1024


def test_check_head_says_whether_the_body_is_chunked() -> None:
    assert check_head(b"POST", b"/", b"1.1", HOST, LIMITS) is False
    chunked = [*HOST, (b"transfer-encoding", b"gzip"), (b"transfer-encoding", b"chunked")]
    assert check_head(b"POST", b"/", b"1.1", chunked, LIMITS) is True
    assert check_head(b"POST", b"/", b"1.1", [*HOST, (b"content-length", b"3")], LIMITS) is False


# The protocol classes on a fake transport: what a client would read, without sockets, so the
# timing and the fast paths can be checked exactly. Real-socket behaviour: tests/security.


class FakeTransport:
    """What uvicorn's protocols use of `asyncio.Transport`; keeps the bytes written."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = False
        self.protocol: Any = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name)

    def write(self, data: bytes) -> None:
        if not self.closed:  # as asyncio's transports: nothing is sent after close()
            self.data += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_protocol(self) -> Any:
        return self.protocol

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass


async def hello(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def serve(
    http: str,
    chunks: list[bytes],
    limits: HeadLimits = LIMITS,
    keep_alive: float = 5,
    wait: float = 0.05,
) -> tuple[list[int], bool, float]:
    """Feed `chunks` to a fresh connection, one per loop turn, then wait up to `wait` seconds
    for it to close. Returns the response statuses, whether it closed, and when (seconds)."""
    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(
            hello, log_config=None, access_log=False, lifespan="off", timeout_keep_alive=keep_alive
        )  # type: ignore[arg-type]
        config.load()
        config.loaded_app = hello
        cls = protocol_class(http, limits)
        protocol = cls(config=config, server_state=ServerState(), app_state={}, _loop=loop)  # type: ignore[call-arg]
        transport = FakeTransport()
        transport.protocol = protocol
        protocol.connection_made(transport)  # type: ignore[arg-type]

        async def run() -> float:
            start = loop.time()
            for chunk in chunks:
                protocol.data_received(chunk)  # type: ignore[attr-defined]
                for _ in range(20):
                    await asyncio.sleep(0)
            for _ in range(int(wait / 0.01) + 1):
                if transport.closed:
                    break
                await asyncio.sleep(0.01)
            return loop.time() - start

        elapsed = loop.run_until_complete(run())
        closed = transport.closed
        protocol.connection_lost(None)
    finally:
        loop.close()
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", transport.data)]
    return statuses, closed, elapsed


GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
HTTPS = ["httptools", "h11"]


@pytest.mark.parametrize("http", HTTPS)
def test_keep_alive_timeout_still_closes_an_idle_connection(http: str) -> None:
    limits = HeadLimits(header_timeout=5.0)
    statuses, closed, elapsed = serve(http, [GET], limits, keep_alive=0.2, wait=2.0)
    assert statuses == [200] and closed
    assert 0.15 <= elapsed < 1.0


@pytest.mark.parametrize("http", HTTPS)
def test_a_started_head_gets_the_header_deadline_not_keep_alive(http: str) -> None:
    limits = HeadLimits(header_timeout=0.6)
    statuses, closed, elapsed = serve(http, [GET, b"GET / HT"], limits, keep_alive=0.2, wait=2.0)
    assert statuses == [200] and closed
    assert 0.5 <= elapsed < 1.5


@pytest.mark.parametrize("http", HTTPS)
def test_a_connection_serving_requests_stays_open(http: str) -> None:
    statuses, closed, _ = serve(http, [GET] * 5, keep_alive=1)
    assert statuses == [200] * 5 and not closed


@pytest.mark.parametrize("http", HTTPS)
@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n y\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    ],
)
def test_a_pipelined_head_is_checked_like_the_first(http: str, head: bytes) -> None:
    statuses, closed, _ = serve(http, [GET + head])
    # httptools reads both heads at once, so its 400 may come before the first response.
    assert closed and statuses[-1] == 400 and statuses.count(200) <= 1


def field_heads() -> list[bytes]:
    """Heads around the edges of small limits: many short fields, one long one, long targets."""
    heads = []
    for count in (5, 9, 10, 11, 30):
        fields = b"".join(b"X%d:%s\r\n" % (i, b"v" * 3) for i in range(count))
        heads.append(b"GET / HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")
    for size in (40, 58, 59, 60, 61, 80, 200):
        heads.append(b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + b"v" * size + b"\r\n\r\n")
    for size in (30, 63, 64, 65, 100):
        heads.append(b"GET /" + b"p" * size + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    # Many fields of a few bytes: `_check_sizes` counts more framing than they have.
    for count in (20, 21, 22, 23, 24):
        fields = b"".join(b"h%d:\r\n" % i for i in range(count))
        heads.append(b"GET / HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")
    return heads


SMALL_LIMITS = [
    HeadLimits(max_request_line=64, max_header_size=64, max_headers=10, max_head_size=160),
    HeadLimits(max_request_line=999, max_header_size=999, max_headers=40, max_head_size=150),
]


@pytest.mark.parametrize("limits", SMALL_LIMITS)
@pytest.mark.parametrize("head", field_heads())
def test_httptools_fast_path_agrees_with_check_head(limits: HeadLimits, head: bytes) -> None:
    """A head in one small read skips the size pass; the verdict must not change."""
    lines = head.split(b"\r\n")
    method, target, version = lines[0].split(b" ")
    headers = [tuple(line.lower().split(b":", 1)) for line in lines[1:] if line]
    fields = [(name.strip(), value.strip()) for name, value in headers]
    try:
        check_head(method, target, version[5:], fields, limits)
        expected = 200
    except Rejection as rejection:
        expected = rejection.status
    # In one read, and byte by byte (the head spans reads: checked after each read).
    assert serve("httptools", [head], limits)[0] == [expected]
    split = serve("httptools", [head[i : i + 1] for i in range(len(head))], limits)[0]
    assert split == [expected] or (expected != 200 and split and split[0] >= 400)
