"""Head limits and slow clients: 414/431 at the documented sizes, a header-read deadline for
slowloris, and other clients served meanwhile."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from asgiforge.server.options import HeadLimits
from tests.security.conftest import Server, get, marker

LIMITS = HeadLimits()


def test_request_target_over_the_limit_is_414(server: Server) -> None:
    tag = marker()
    reply = server.send(get(f"/{tag}/" + "a" * LIMITS.max_request_line))
    assert reply.status == 414 and reply.closed
    assert server.reached_app(tag) == []


def test_endless_request_line_is_414_without_waiting_for_its_end(server: Server) -> None:
    reply = server.send(b"GET /" + b"a" * 200_000, timeout=5)
    assert reply.status == 414 and reply.closed
    assert reply.elapsed < 2


def test_target_just_under_the_limit_is_served(server: Server) -> None:
    reply = server.send(get("/" + "a" * (LIMITS.max_request_line - 200)))
    assert reply.status == 404


def test_header_over_the_limit_is_431(server: Server) -> None:
    tag = marker()
    reply = server.send(get(f"/{tag}", extra="X-Big: " + "a" * LIMITS.max_header_size + "\r\n"))
    assert reply.status == 431 and reply.closed
    assert server.reached_app(tag) == []


def test_endless_header_is_431_without_waiting_for_its_end(server: Server) -> None:
    head = b"GET / HTTP/1.1\r\nHost: testserver\r\nX-Big: "
    reply = server.send(head, chunks=[b"a" * 65536] * 8, timeout=5)
    assert reply.status == 431 and reply.closed
    assert reply.elapsed < 3


def test_huge_cookie_is_431(server: Server) -> None:
    tag = marker()
    cookie = "; ".join(f"c{i}={'v' * 40}" for i in range(500))
    reply = server.send(get(f"/{tag}", extra=f"Cookie: {cookie}\r\n"))
    assert reply.status == 431
    assert server.reached_app(tag) == []


def test_too_many_headers_is_431(server: Server) -> None:
    tag = marker()
    extra = "".join(f"X-{i}: 1\r\n" for i in range(LIMITS.max_headers + 1))
    reply = server.send(get(f"/{tag}", extra=extra))
    assert reply.status == 431
    assert server.reached_app(tag) == []


def test_many_headers_within_the_count_but_over_the_head_size_is_431(server: Server) -> None:
    tag = marker()
    extra = "".join(f"X-{i}: {'v' * 1000}\r\n" for i in range(90))
    reply = server.send(get(f"/{tag}", extra=extra))
    assert reply.status == 431
    assert server.reached_app(tag) == []


def test_a_normal_browser_sized_head_is_served(server: Server) -> None:
    extra = "".join(f"X-{i}: {'v' * 100}\r\n" for i in range(40))
    extra += "Cookie: " + "; ".join(f"c{i}=v" for i in range(200)) + "\r\n"
    assert server.send(get("/", extra=extra)).status == 200


def _slowloris(port: int, interval: float, limit: float) -> tuple[float, bool]:
    """Send one header line every `interval` s; return (seconds until cut off, was cut off)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: testserver\r\n")
        for i in range(int(limit / interval) + 1):
            sock.settimeout(interval)
            try:
                if sock.recv(1024) == b"":
                    return time.monotonic() - start, True
            except TimeoutError:
                pass
            except ConnectionResetError:
                return time.monotonic() - start, True
            try:
                sock.sendall(f"X-Drip-{i}: 1\r\n".encode())
            except OSError:
                return time.monotonic() - start, True
    return time.monotonic() - start, False


def _silent(port: int, limit: float) -> tuple[float, bool]:
    """Connect and send nothing; return (seconds until the server closed, whether it did)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        try:
            data = sock.recv(1024)
        except ConnectionResetError:
            data = b""
        except TimeoutError:
            return time.monotonic() - start, False
    return time.monotonic() - start, data == b""


@pytest.mark.slow
def test_slowloris_and_silent_clients_are_cut_off_while_others_are_served(server: Server) -> None:
    deadline = LIMITS.header_timeout
    results: dict[str, tuple[float, bool]] = {}
    threads = [
        threading.Thread(
            target=lambda: results.__setitem__("drip", _slowloris(server.port, 2.0, 25.0))
        ),
        threading.Thread(target=lambda: results.__setitem__("silent", _silent(server.port, 25.0))),
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in range(3):  # served normally, quickly, while the slow clients hang on
            time.sleep(1.0)
            server.assert_alive()
    finally:
        for thread in threads:
            thread.join(timeout=40)
    for kind in ("drip", "silent"):
        elapsed, cut = results[kind]
        assert cut, f"the {kind} client was never disconnected"
        assert deadline - 1 <= elapsed <= deadline + 3, (kind, elapsed)
