"""Fixtures of the hostile-input suite: one `asgiforge serve` per HTTP implementation, raw sockets.

Each server is started once per session (`--workers 1`, 127.0.0.1, a free port, its own
session so `close()` kills the whole group) with its default settings, serving
`tests/security/hostile_app.py`. Tests talk to it with plain sockets: hostile bytes are the point,
and an HTTP library would refuse to send most of them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import free_port, wait_until
from tests.server.serve_process import live_children

REPO = Path(__file__).resolve().parents[2]
IMPLEMENTATIONS = ("h11", "httptools")
STATIC_FILE_SIZE = 100_000


@dataclass
class Reply:
    """What came back on one connection: the raw bytes and whether the server closed it."""

    raw: bytes
    closed: bool
    elapsed: float

    @property
    def status(self) -> int | None:
        """Status of the first response, None if nothing (parseable) came back."""
        if not self.raw.startswith(b"HTTP/1.1 "):
            return None
        return int(self.raw[9:12])

    @property
    def head(self) -> bytes:
        return self.raw.partition(b"\r\n\r\n")[0]

    def header(self, name: str) -> str | None:
        """First value of a response header (case-insensitive), None if absent."""
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None

    @property
    def body(self) -> bytes:
        return self.raw.partition(b"\r\n\r\n")[2]

    @property
    def responses(self) -> int:
        return self.raw.count(b"HTTP/1.1 ")


def exchange(
    port: int, data: bytes, timeout: float = 5.0, chunks: list[bytes] | None = None
) -> Reply:
    """Send `data` (then each of `chunks`) and read until the server closes or `timeout` passes."""
    start = time.monotonic()
    deadline = start + timeout
    received = bytearray()
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            for chunk in chunks or []:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused before reading it all: what it answered still counts
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not piece:
                closed = True
                break
            received += piece
    return Reply(bytes(received), closed, time.monotonic() - start)


def get(path: str, host: str = "testserver", extra: str = "") -> bytes:
    """A well-formed request that asks the server to close afterwards."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode(
        "latin-1"
    )


def marker() -> str:
    """A path segment no other test uses, to look for in what reached the app."""
    return "m-" + uuid.uuid4().hex[:12]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


class Server:
    """One `python -m asgiforge serve tests.security.hostile_app:app` and its worker."""

    def __init__(self, tmp: Path, http: str, *extra: str) -> None:
        self.http = http
        self.port = free_port()
        self.record = tmp / f"record-{http}.jsonl"
        self.record.touch()
        static = tmp / "static"
        if not static.exists():
            (static / "sub").mkdir(parents=True)
            (static / "index.html").write_text("<h1>index</h1>")
            (static / "sub" / "index.html").write_text("<h1>sub</h1>")
            (static / "file.bin").write_bytes(bytes(range(256)) * (STATIC_FILE_SIZE // 256 + 1))
            (tmp / "static_private").mkdir()
            (tmp / "static_private" / "secret.txt").write_text("TOP-SECRET")
            (tmp / "secret.txt").write_text("TOP-SECRET")
        self.log_path = tmp / f"serve-{http}.log"
        self._log = self.log_path.open("wb")
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "HOSTILE_RECORD": str(self.record),
            "HOSTILE_STATIC": str(static),
        }
        env.pop("WEB_CONCURRENCY", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "asgiforge",
                "serve",
                "tests.security.hostile_app:app",
                "--app-dir",
                str(REPO),
                "--workers",
                "1",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http",
                http,
                *extra,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            cwd=tmp,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"server ({self.http}) exited:\n{self.log()}")
            return exchange(self.port, get("/"), timeout=2).status == 200

        if not wait_until(ready, timeout, 0.1):
            raise AssertionError(f"server ({self.http}) not ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def send(self, data: bytes, timeout: float = 5.0, chunks: list[bytes] | None = None) -> Reply:
        return exchange(self.port, data, timeout, chunks)

    def reached_app(self, fragment: str) -> list[dict[str, object]]:
        """Requests recorded by the app whose path or headers contain `fragment`."""
        hits = []
        for line in self.record.read_text().splitlines():
            if fragment in line:
                hits.append(json.loads(line))
        return hits

    def worker_pid(self) -> int:
        workers = live_children(self.proc.pid)
        if not workers:
            raise AssertionError("no live worker")
        return min(workers)

    def assert_alive(self) -> None:
        """The server still answers a normal request quickly."""
        reply = self.send(get("/"), timeout=5)
        assert reply.status == 200, reply.raw[:200]
        assert reply.elapsed < 2.0

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here that talks to a server process is `slow` (the default run skips none;
    ``-m "not slow"`` leaves the pure ones)."""
    here = Path(__file__).parent
    for item in items:
        if here not in item.path.parents:
            continue
        if {"server", "tuned"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", params=IMPLEMENTATIONS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The default `serve` configuration, once per HTTP implementation for the whole session."""
    srv = Server(tmp_path_factory.mktemp(f"hostile-{request.param}"), request.param)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.close()
