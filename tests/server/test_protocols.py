"""The hardened protocols' head checks, as a pure function, and the class chosen per --http.

Their behaviour over real sockets is the subject of tests/security."""

from __future__ import annotations

import pytest

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
