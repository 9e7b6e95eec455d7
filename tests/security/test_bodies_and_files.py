"""Static files and Range, forms, JSON bombs and bodies far beyond the cap: the right status,
fast, with the worker's memory bounded and other clients served."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from asgiforge.server.protocols import LINGER
from tests.security.conftest import STATIC_FILE_SIZE, Server, get, rss_kib
from tests.security.hostile_app import MAX_BODY_SIZE

TRAVERSALS = [
    "/static/../secret.txt",
    "/static/../static_private/secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..\\secret.txt",
    "/static/%252e%252e/secret.txt",
    "/static/sub/../../secret.txt",
    "/static/%00secret.txt",
    "/static/secret.txt%00.html",
    "/static_private/secret.txt",
    "/static/../static_private",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_static_traversal_is_404(server: Server, path: str) -> None:
    reply = server.send(get(path))
    assert reply.status in (400, 404), reply.raw[:300]
    assert b"TOP-SECRET" not in reply.raw and b"root:" not in reply.raw


def _range(server: Server, value: str) -> tuple[int | None, float]:
    reply = server.send(get("/static/file.bin", extra=f"Range: {value}\r\n"), timeout=5)
    return reply.status, reply.elapsed


def test_20000_digit_range_is_refused_fast(server: Server) -> None:
    for value in (f"bytes={'9' * 20000}-", f"bytes=0-{'9' * 20000}", f"bytes=-{'9' * 20000}"):
        status, elapsed = _range(server, value)
        assert status == 431 and elapsed < 2  # a 20 kB header is over the header limit


def test_huge_numbers_within_the_header_limit_are_answered_fast(server: Server) -> None:
    status, elapsed = _range(server, f"bytes={'9' * 8000}-")
    assert status == 416 and elapsed < 2
    status, elapsed = _range(server, f"bytes=0-{'9' * 8000}")
    assert status == 206 and elapsed < 2


def test_5000_ranges_are_refused_fast(server: Server) -> None:
    status, elapsed = _range(server, "bytes=" + ",".join(f"{i}-{i}" for i in range(5000)))
    assert status == 431 and elapsed < 2


def test_many_overlapping_ranges_within_the_limit_send_the_file_once(server: Server) -> None:
    reply = server.send(
        get("/static/file.bin", extra="Range: bytes=" + ",".join(["0-"] * 1500) + "\r\n")
    )
    assert reply.status in (200, 206, 416) and reply.elapsed < 2
    assert len(reply.raw) < 2 * STATIC_FILE_SIZE + 10_000


def test_malformed_ranges(server: Server) -> None:
    assert _range(server, "bytes=5-1")[0] in (400, 416)
    assert _range(server, f"bytes={STATIC_FILE_SIZE * 10}-")[0] == 416
    assert _range(server, "items=0-1")[0] in (200, 400)
    assert _range(server, "bytes=0-0,1-1")[0] == 206


def post(path: str, body: bytes, content_type: str = "application/octet-stream") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: testserver\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def test_json_deep_nesting_is_400(server: Server) -> None:
    reply = server.send(post("/json", b"[" * 100_000 + b"]" * 100_000, "application/json"))
    assert reply.status in (400, 413), reply.raw[:300]


def test_json_within_the_cap_but_deep_is_400_fast(server: Server) -> None:
    reply = server.send(post("/json", b"[" * 30_000 + b"]" * 30_000, "application/json"))
    assert reply.status == 400 and reply.elapsed < 2, reply.raw[:300]


def test_json_huge_number_is_400_fast(server: Server) -> None:
    reply = server.send(post("/json", b"9" * 60_000, "application/json"))
    assert reply.status == 400 and reply.elapsed < 2, reply.raw[:300]
    reply = server.send(post("/json", b"[1e" + b"9" * 60_000 + b"]", "application/json"))
    assert reply.status == 200 and reply.elapsed < 2, reply.raw[:300]  # a float: inf


def test_urlencoded_field_bomb_is_400(server: Server) -> None:
    body = "&".join(f"f{i}=v" for i in range(5000)).encode()
    reply = server.send(post("/form", body, "application/x-www-form-urlencoded"))
    assert reply.status == 400 and reply.elapsed < 2, reply.raw[:300]


def test_multipart_limits(server: Server) -> None:
    boundary = "xyz"
    files = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"; '
        f'filename="../../x{i}"\r\n\r\n'
        "data\r\n"
        for i in range(10)
    )
    body = (files + f"--{boundary}--\r\n").encode()
    reply = server.send(post("/form", body, f"multipart/form-data; boundary={boundary}"))
    assert reply.status == 400, reply.raw[:300]
    big_part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
        + "v" * 40_000
        + f"\r\n--{boundary}--\r\n"
    ).encode()
    reply = server.send(post("/form", big_part, f"multipart/form-data; boundary={boundary}"))
    assert reply.status == 400, reply.raw[:300]
    unterminated = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="a"'.encode() + b"x" * 50_000
    )
    reply = server.send(post("/form", unterminated, f"multipart/form-data; boundary={boundary}"))
    assert reply.status == 400 and reply.elapsed < 2, reply.raw[:300]


def test_declared_body_over_the_cap_is_413_before_it_is_sent(server: Server) -> None:
    head = b"POST /body HTTP/1.1\r\nHost: testserver\r\nContent-Length: 10000000000\r\n\r\n"
    reply = server.send(head, timeout=5)
    assert reply.status == 413 and reply.elapsed < 2  # and closed: the body will not be read
    assert reply.closed


def _stream(port: int, head: bytes, piece: bytes, total: int, out: list[object]) -> None:
    sent = 0
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            while sent < total and time.monotonic() - start < 20:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass
        sock.settimeout(5)
        try:
            out.append(sock.recv(200))
        except OSError as exc:
            out.append(exc)
    out.append(sent)
    out.append(time.monotonic() - start)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_far_beyond_the_cap_is_refused_with_memory_bounded(
    server: Server, framing: str
) -> None:
    total = 1 << 40  # never reached: the server must cut the upload off first
    if framing == "chunked":
        head = b"POST /body HTTP/1.1\r\nHost: testserver\r\nTransfer-Encoding: chunked\r\n\r\n"
        piece = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    else:
        head = f"POST /body HTTP/1.1\r\nHost: testserver\r\nContent-Length: {total}\r\n\r\n"
        head = head.encode()
        piece = b"x" * 0x10000
    pid = server.worker_pid()
    before = rss_kib(pid)
    out: list[object] = []
    uploader = threading.Thread(target=_stream, args=(server.port, head, piece, total, out))
    uploader.start()
    peak = before
    try:
        for _ in range(10):
            time.sleep(0.2)
            peak = max(peak, rss_kib(pid))
            server.assert_alive()
    finally:
        uploader.join(timeout=30)
    assert isinstance(out[0], bytes) and out[0].startswith(b"HTTP/1.1 413"), out
    # Cut off by the server (half-close, then close after LINGER s), not swallowed for as
    # long as the client cares to send.
    assert isinstance(out[1], int) and out[1] < total
    assert isinstance(out[2], float) and out[2] < LINGER + 6
    assert peak - before < 30 * 1024, f"RSS grew by {(peak - before) // 1024} MiB"


def test_body_just_under_the_cap_is_accepted(server: Server) -> None:
    reply = server.send(post("/body", b"x" * MAX_BODY_SIZE))
    assert reply.status == 200 and reply.body == str(MAX_BODY_SIZE).encode()


def test_json_with_nothing_hostile_still_parses(server: Server) -> None:
    reply = server.send(post("/json", json.dumps({"a": [1, 2, {"b": None}]}).encode()))
    assert reply.status == 200 and reply.body == b"dict"
