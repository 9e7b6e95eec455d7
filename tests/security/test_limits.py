"""Head limits and slow clients: 414/431 at the documented sizes, a header-read deadline for
slowloris, and other clients served meanwhile."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from asgiforge.server.options import HeadLimits
from tests.security.conftest import IMPLEMENTATIONS, Server, get, marker

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


def test_declared_body_over_the_server_limit_is_413_at_once(server: Server) -> None:
    """A head declaring a terabyte is answered before any body, whatever the route: no app
    (here a 404 that never reads the body) is trusted to refuse it."""
    tag = marker()
    head = f"POST /{tag} HTTP/1.1\r\nHost: testserver\r\nContent-Length: 1000000000000\r\n\r\n"
    reply = server.send(head.encode(), timeout=5)
    assert reply.status == 413 and reply.closed, reply.raw[:300]
    assert reply.elapsed < 2
    assert server.reached_app(tag) == []


# Below the app's own 64 KiB cap, so what answers here is the server.
TUNED_BODY_LIMIT = 30_000
TUNED_BODY_TIMEOUT = 1.0


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def tuned(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server with a small body limit and a short body deadline, set by the `serve` flags."""
    srv = Server(
        tmp_path_factory.mktemp(f"tuned-{request.param}"),
        request.param,
        "--limit-request-body",
        str(TUNED_BODY_LIMIT),
        "--body-timeout",
        str(TUNED_BODY_TIMEOUT),
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.close()


@pytest.mark.slow
def test_chunked_body_is_413_as_soon_as_it_passes_the_limit(tuned: Server) -> None:
    head = b"POST /body HTTP/1.1\r\nHost: testserver\r\nTransfer-Encoding: chunked\r\n\r\n"
    piece = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"  # 16 KiB a chunk
    reply = tuned.send(head, chunks=[piece] * 3, timeout=5)
    assert reply.status == 413 and reply.closed, reply.raw[:300]
    assert reply.body == b"Request body too large" and reply.elapsed < 2
    # Within the limit, the same upload is served.
    ok = tuned.send(head, chunks=[piece, b"0\r\n\r\n"], timeout=5)
    assert ok.status == 200 and ok.body.endswith(str(0x4000).encode()), ok.raw[:300]


def _stall(port: int, out: list[tuple[bytes, bool, float]]) -> None:
    """Declare a 20 KB body, send half of it, go silent; note what came back and when."""
    start = time.monotonic()
    head = b"POST /body HTTP/1.1\r\nHost: testserver\r\nContent-Length: 20000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"x" * 10_000)
        data = b""
        closed = False
        try:
            while piece := sock.recv(4096):
                data += piece
            closed = True
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            pass
    out.append((data, closed, time.monotonic() - start))


@pytest.mark.slow
def test_stalled_request_bodies_get_408_and_are_closed(tuned: Server) -> None:
    out: list[tuple[bytes, bool, float]] = []
    threads = [threading.Thread(target=_stall, args=(tuned.port, out)) for _ in range(200)]
    for thread in threads:
        thread.start()
    try:
        tuned.assert_alive()  # others are served meanwhile
    finally:
        for thread in threads:
            thread.join(timeout=20)
    assert len(out) == 200
    for data, closed, elapsed in out:
        assert data.startswith(b"HTTP/1.1 408") and closed, data[:200]
        assert elapsed < TUNED_BODY_TIMEOUT + 5
