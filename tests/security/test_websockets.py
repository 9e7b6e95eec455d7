"""WebSockets over raw sockets: oversized messages close with 1009, malformed handshakes never
upgrade, and cross-site handshakes are refused where origins are restricted."""

from __future__ import annotations

import base64
import os
import socket
import struct
import time

import pytest

from asgiforge.server.options import HTTPOptions
from tests.security.conftest import Server, marker, rss_kib
from tests.security.hostile_app import GOOD_ORIGIN


def handshake(path: str, host: str = "testserver", extra: str = "", version: str = "13") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n"
    ).encode()


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    masked = (
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload[:64]))
        + bytes(b ^ mask[(i + 64) % 4] for i, b in enumerate(payload[64:]))
        if size <= 4096
        else _mask_large(payload, mask)
    )
    return header + mask + masked


def _mask_large(payload: bytes, mask: bytes) -> bytes:
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(len(payload), "big")


class Conn:
    def __init__(self, server: Server, data: bytes) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.sock.sendall(data)
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            piece = self.sock.recv(4096)
            if not piece:
                break
            self.buffer += piece
        self.head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")

    @property
    def status(self) -> int:
        return int(self.head[9:12]) if self.head.startswith(b"HTTP/1.1 ") else 0

    def read_frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.buffer) >= 2:
                opcode, size = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
                start = 2
                if size == 126:
                    size, start = struct.unpack("!H", self.buffer[2:4])[0], 4
                elif size == 127:
                    size, start = struct.unpack("!Q", self.buffer[2:10])[0], 10
                if len(self.buffer) >= start + size:
                    payload = self.buffer[start : start + size]
                    self.buffer = self.buffer[start + size :]
                    return opcode, payload
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            piece = self.sock.recv(65536)
            if not piece:
                raise ConnectionError("closed before a whole frame")
            self.buffer += piece
        raise TimeoutError("no frame")

    def close(self) -> None:
        self.sock.close()


def test_echo_works(server: Server) -> None:
    conn = Conn(server, handshake("/ws"))
    try:
        assert conn.status == 101
        conn.sock.sendall(frame(b"hello"))
        assert conn.read_frame() == (0x1, b"hello")
    finally:
        conn.close()


def test_message_over_ws_max_size_closes_1009(server: Server) -> None:
    conn = Conn(server, handshake("/ws"))
    try:
        assert conn.status == 101
        conn.sock.sendall(frame(b"x" * (HTTPOptions().ws_max_size + 1), opcode=0x2))
        opcode, payload = conn.read_frame()
        assert opcode == 0x8
        assert struct.unpack("!H", payload[:2])[0] == 1009
    finally:
        conn.close()
    server.assert_alive()


def test_declared_huge_frame_closes_1009_without_waiting_for_it(server: Server) -> None:
    conn = Conn(server, handshake("/ws"))
    try:
        assert conn.status == 101
        header = struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 40) + os.urandom(4)
        conn.sock.sendall(header + b"\0" * 1024)
        opcode, payload = conn.read_frame()
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1009
    finally:
        conn.close()


BAD_HANDSHAKES = [
    ("no-key", lambda tag: handshake(f"/ws?{tag}").replace(b"Sec-WebSocket-Key", b"X-Nope")),
    ("bad-version", lambda tag: handshake(f"/ws?{tag}", version="8")),
    (
        "short-key",
        lambda tag: handshake(f"/ws?{tag}").replace(
            b"Sec-WebSocket-Key: ", b"Sec-WebSocket-Key: AA"
        ),
    ),
    (
        "no-upgrade-token",
        lambda tag: handshake(f"/ws?{tag}").replace(
            b"Connection: Upgrade", b"Connection: keep-alive"
        ),
    ),
    ("hostile-host", lambda tag: handshake(f"/ws?{tag}", host="evil.example/x")),
    ("duplicate-host", lambda tag: handshake(f"/ws?{tag}", extra="Host: evil.example\r\n")),
]


@pytest.mark.parametrize(("case", "build"), BAD_HANDSHAKES, ids=[c for c, _ in BAD_HANDSHAKES])
def test_malformed_handshakes_never_upgrade(server: Server, case: str, build) -> None:  # type: ignore[no-untyped-def]
    tag = marker()
    conn = Conn(server, build(tag))
    try:
        assert conn.status != 101, (case, conn.head)
        assert 400 <= conn.status < 500 or conn.status == 0, (case, conn.head)
    finally:
        conn.close()
    assert not [hit for hit in server.reached_app(tag) if hit["type"] == "websocket"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "https://good.example.evil.example",
        "http://good.example",
        "https://good.example:8443",
        "file://",
        "https://testserver@evil.example",
    ],
)
def test_cross_site_handshake_is_refused_where_origins_are_restricted(
    server: Server, origin: str
) -> None:
    conn = Conn(server, handshake("/wsr/", extra=f"Origin: {origin}\r\n"))
    try:
        assert conn.status == 403, conn.head
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (GOOD_ORIGIN, "testserver"),
        ("http://testserver", "testserver"),
        ("https://testserver:8443", "testserver:8443"),
        (None, "testserver"),
    ],
)
def test_allowed_same_origin_and_non_browser_handshakes_upgrade(
    server: Server, origin: str | None, host: str
) -> None:
    extra = f"Origin: {origin}\r\n" if origin else ""
    conn = Conn(server, handshake("/wsr/", host=host, extra=extra))
    try:
        assert conn.status == 101, conn.head
        conn.sock.sendall(frame(b"hi"))
        assert conn.read_frame() == (0x1, b"hi")
    finally:
        conn.close()


def test_unrestricted_endpoint_accepts_any_origin(server: Server) -> None:
    conn = Conn(server, handshake("/ws", extra="Origin: https://evil.example\r\n"))
    try:
        assert conn.status == 101
    finally:
        conn.close()


@pytest.mark.slow
def test_ping_flood_from_a_client_that_never_reads_leaves_the_worker_bounded(
    server: Server,
) -> None:
    """400,000 pings, no pong read: uvicorn wrote every pong into the transport (+46 MiB);
    past `--ws-max-unread` the worker stops reading, so the client's sends block instead."""
    pid = server.worker_pid()
    with socket.socket() as sock:
        # A small receive window on our side, so unread pongs pile up in the server.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(5)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(handshake("/ws"))
        assert sock.recv(4096).startswith(b"HTTP/1.1 101")
        before = rss_kib(pid)
        pings = b"".join(frame(b"p" * 125, opcode=0x9) for _ in range(1000))
        sock.settimeout(1)
        sent = 0
        deadline = time.monotonic() + 10
        try:
            while sent < 400 and time.monotonic() < deadline:
                sock.sendall(pings)
                sent += 1
        except TimeoutError:
            pass  # the server stopped reading: what the bound is for
        grown = rss_kib(pid) - before
        server.assert_alive()
    assert sent < 200, f"{sent}k pings were read without their pongs being read"
    assert grown < 8 * 1024, f"worker grew by {grown // 1024} MiB"
