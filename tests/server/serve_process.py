"""Run `asgiforge serve` as a real process for tests: free port, log file, bounded waits.

Every process is started in its own session and its whole group is SIGKILLed by `close()`,
which the fixtures call in a finally, so a failing test never leaves workers behind.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.harness import free_port, wait_until

__all__ = ["APP", "ServeProcess", "free_port", "live_children", "wait_until", "write_app"]

APP = """
import asyncio, os, time

FAIL_STARTUP = os.environ.get("FAIL_STARTUP") == "1"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if FAIL_STARTUP:
                    await send({"type": "lifespan.startup.failed",
                                "message": "Traceback...\\nRuntimeError: database unreachable"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path in ("/slow", "/block"):
        print(f"started {path}", flush=True)  # the marker tests wait on (ServeProcess.wait_log)
    if path == "/slow":
        await asyncio.sleep(2)
    elif path == "/block":
        time.sleep(600)  # blocks the event loop on purpose
    elif path == "/grow":
        globals().setdefault("ballast", []).append(bytearray(64 * 1024 * 1024))
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
"""


def write_app(directory: Path) -> Path:
    (directory / "svcapp.py").write_text(APP)
    return directory


class ServeProcess:
    """One `python -m asgiforge serve` master and its workers."""

    def __init__(
        self,
        tmp_path: Path,
        *args: str,
        env: dict[str, str] | None = None,
        port: int = 0,
        python_flags: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.log_path = tmp_path / f"serve-{self.port}.log"
        self._log = self.log_path.open("wb")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        full_env.pop("WEB_CONCURRENCY", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *python_flags,
                "-m",
                "asgiforge",
                "serve",
                "svcapp:app",
                "--app-dir",
                str(tmp_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                *args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=full_env,
            cwd=tmp_path,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ready_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"worker \[(\d+)\] ready", self.log())]

    def live_workers(self) -> set[int]:
        """Child processes of the master that are still running (zombies excluded)."""
        return live_children(self.pid)

    def wait_ready(self, count: int, timeout: float = 15.0) -> list[int]:
        if not wait_until(lambda: len(self.ready_pids()) >= count, timeout):
            raise AssertionError(f"{count} workers not ready in {timeout}s:\n{self.log()}")
        return self.ready_pids()

    def wait_log(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `text` appears `count` times in the log (a marker, a worker's line)."""
        if not wait_until(lambda: self.log().count(text) >= count, timeout):
            raise AssertionError(
                f"{text!r} not logged {count} time(s) in {timeout}s:\n{self.log()}"
            )

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def get(self, path: str = "/", timeout: float = 10.0) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def wait_exit(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


def live_children(parent: int) -> set[int]:
    """Running (non-zombie) child processes of `parent`, read from /proc."""
    children: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            children.add(int(entry.name))
    return children
