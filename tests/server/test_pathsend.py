"""``http.response.pathsend`` under real `asgiforge serve` and `asgiforge dev` processes.

Each server runs an app (`APP`) that counts the `os.sendfile` calls made in its worker (a spy
wrapped around ``os.sendfile`` at import, read back from ``/count``), so a test can tell the
kernel's sendfile from the chunked fallback without strace. Every combination of event loop and
HTTP implementation gets one server, shared by the tests of this module.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import free_port, run_bounded, wait_until
from tests.server.serve_process import ServeProcess
from tests.servers import kill_group

pytestmark = pytest.mark.slow

SIZE = 10 * 1024 * 1024

APP = """
import errno, json, os
from asgiforge.runtime.responses import FileResponse

HERE = os.path.dirname(os.path.abspath(__file__))
BIG = os.path.join(HERE, "big.bin")
calls = [0]
refuse = [False]
_sendfile = os.sendfile


def counting_sendfile(*args):
    calls[0] += 1
    if refuse[0]:
        raise OSError(errno.EINVAL, "sendfile refused by the test")
    return _sendfile(*args)


os.sendfile = counting_sendfile


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    extensions = scope.get("extensions") or {}
    if path == "/big":
        await FileResponse(BIG)(scope, receive, send)
    elif path in ("/raw", "/refuse"):
        # The message itself, without Content-Length: the server frames it (chunked).
        await send({"type": "http.response.start", "status": 200, "headers": []})
        refuse[0] = path == "/refuse"
        try:
            await send({"type": "http.response.pathsend", "path": BIG})
        finally:
            refuse[0] = False
    else:
        body = json.dumps({
            "pid": os.getpid(),
            "sendfile": calls[0],
            "pathsend": "http.response.pathsend" in extensions,
        }).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
"""

COMBINATIONS = [
    ("asyncio", "h11"),
    ("asyncio", "httptools"),
    ("uvloop", "h11"),
    ("uvloop", "httptools"),
]


def write_files(directory: Path) -> str:
    """The app and a 10 MiB file of random bytes in `directory`; the file's digest."""
    (directory / "svcapp.py").write_text(APP)
    data = os.urandom(SIZE)
    (directory / "big.bin").write_bytes(data)
    return hashlib.sha256(data).hexdigest()


class Server:
    """A running server of `APP`: how to reach it and what its file's digest is."""

    def __init__(self, port: int, digest: str, log: Any, tls: bool = False) -> None:
        self.port = port
        self.digest = digest
        self.log = log
        self.tls = tls

    def connect(self) -> http.client.HTTPConnection:
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=20, context=context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)

    def info(self) -> dict[str, Any]:
        conn = self.connect()
        try:
            conn.request("GET", "/count")
            result: dict[str, Any] = json.loads(conn.getresponse().read())
            return result
        finally:
            conn.close()

    def wait_ready(self) -> None:
        if not wait_until(lambda: self.info()["pid"], timeout=20):
            raise AssertionError(f"server not answering:\n{self.log()}")


def fetch(conn: http.client.HTTPConnection, path: str, method: str = "GET") -> tuple[Any, bytes]:
    conn.request(method, path)
    response = conn.getresponse()
    return response, response.read()


@pytest.fixture(scope="module", params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
def server(request: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    loop, impl = request.param
    directory = tmp_path_factory.mktemp(f"pathsend-{loop}-{impl}")
    digest = write_files(directory)
    process = ServeProcess(directory, "--workers", "1", "--loop", loop, "--http", impl)
    try:
        running = Server(process.port, digest, process.log)
        running.wait_ready()
        yield running
    finally:
        process.close()


def digest_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def fetch_big_by_sendfile(server: Server) -> tuple[http.client.HTTPResponse, bytes]:
    """GET /big on a server that advertises pathsend; the kernel's sendfile sent it."""
    before = server.info()
    assert before["pathsend"] is True
    conn = server.connect()
    try:
        response, body = fetch(conn, "/big")
    finally:
        conn.close()
    assert server.info()["sendfile"] > before["sendfile"]
    return response, body


def test_ten_mib_file_arrives_byte_exact_by_sendfile(server: Server) -> None:
    response, body = fetch_big_by_sendfile(server)
    assert response.status == 200
    assert response.getheader("content-length") == str(SIZE)
    assert len(body) == SIZE and digest_of(body) == server.digest


def test_keep_alive_and_server_framed_pathsend(server: Server) -> None:
    """Two files and a small response on one connection; the bare message (no
    Content-Length) is sent chunked by the server, and the explicit fallback (sendfile
    refused) sends the same bytes."""
    conn = server.connect()
    try:
        for path in ("/big", "/raw", "/refuse", "/big"):
            response, body = fetch(conn, path)
            assert response.status == 200, path
            assert digest_of(body) == server.digest, path
        assert fetch(conn, "/count")[0].status == 200
    finally:
        conn.close()


def test_head_has_headers_and_no_body(server: Server) -> None:
    conn = server.connect()
    try:
        for path in ("/big", "/raw"):
            response, body = fetch(conn, path, "HEAD")
            assert response.status == 200 and body == b""
        assert response.getheader("content-length") is None  # /raw declared none
        # Any body bytes after a HEAD response would be read as the next status line.
        response, body = fetch(conn, "/count")
        assert response.status == 200 and json.loads(body)["pathsend"] is True
    finally:
        conn.close()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def abandon_download(port: int) -> None:
    """Ask for the file, read a little of it and close: the server is mid-file (the small
    receive window keeps most of the 10 MiB on its side)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = 0
        while received < 256 * 1024:
            chunk = sock.recv(65536)
            assert chunk, "server closed before sending the file"
            received += len(chunk)


def test_client_closing_mid_file_leaves_the_worker_healthy(server: Server) -> None:
    info = server.info()
    pid = info["pid"]
    # Settle: the connection of info() is closed on both sides before the baseline.
    wait_until(lambda: open_fds(pid) == open_fds(pid), timeout=1)
    baseline = open_fds(pid)
    for _ in range(5):
        abandon_download(server.port)
    assert wait_until(lambda: open_fds(pid) <= baseline, timeout=10), (
        f"{open_fds(pid)} descriptors open in the worker, {baseline} before"
    )
    conn = server.connect()
    try:
        response, body = fetch(conn, "/big")
    finally:
        conn.close()
    assert response.status == 200 and digest_of(body) == server.digest
    log = server.log()
    for word in ("Traceback", "ERROR", "Exception"):
        assert word not in log, log


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    result = run_bounded(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return cert, key


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_tls_falls_back_to_chunks(
    loop: str, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    """Over TLS the bytes must go through the TLS layer: the same file, no sendfile call."""
    cert, key = certificate
    digest = write_files(tmp_path)
    tls = ("--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
    process = ServeProcess(tmp_path, "--workers", "1", "--loop", loop, *tls)
    try:
        server = Server(process.port, digest, process.log, tls=True)
        server.wait_ready()
        assert server.info()["pathsend"] is True
        conn = server.connect()
        try:
            for path in ("/big", "/raw"):
                response, body = fetch(conn, path)
                assert response.status == 200 and digest_of(body) == digest, path
        finally:
            conn.close()
        assert server.info()["sendfile"] == 0
    finally:
        process.close()


def test_dev_serves_files_by_sendfile(tmp_path: Path) -> None:
    digest = write_files(tmp_path)
    port = free_port()
    log_path = tmp_path / "dev.log"
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "asgiforge", "dev", "svcapp:app", "--port", str(port)],
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        server = Server(port, digest, lambda: log_path.read_text(errors="replace"))
        server.wait_ready()
        response, body = fetch_big_by_sendfile(server)
        assert response.status == 200 and digest_of(body) == digest
    finally:
        kill_group(process, timeout=10)
