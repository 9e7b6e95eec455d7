"""Fault measurements of `asgiforge serve` next to `uvicorn --workers` and gunicorn + UvicornWorker.

Same bare ASGI app, 2 workers, 32 keep-alive connections (stdlib http.client: no retries, so a
keep-alive connection closed under a request counts as a failure). Figures (issue 6):

1. requests failed across 3 SIGHUP rolling restarts under steady load (goal 0);
2. in-flight 2-second requests completing across SIGHUP and across SIGTERM (goal all);
3. time from a worker's SIGKILL to N live workers again (goal <= gunicorn's);
4. time to replace a worker whose event loop is blocked, with a 5 s timeout (goal <= 6 s);
5. requests failed while workers are recycled by --max-requests under load (goal 0);
6. SIGTERM with one open server-sent-events stream: seconds until the master exits, and whether
   an ERROR was logged (goal: within 2 s, none; issue 14).

    python bench/serve_faults.py            # writes bench/RESULTS.md

The anchors run from their own venv, bench/.venv-anchors (created on first use), so the
project venv never gets starlette/gunicorn installed.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ANCHORS = HERE / ".venv-anchors"
WORKERS = 2
CONNECTIONS = 32
TIMEOUT = 5

APP = """
import asyncio, os, time

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/slow":
        await asyncio.sleep(2)
    elif scope["path"] == "/block":
        time.sleep(120)
    elif scope["path"] == "/events":  # server-sent events until the client (or server) leaves
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        gone = asyncio.Event()

        async def watch():
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        n = 0
        while not gone.is_set():
            await send({"type": "http.response.body", "body": b"data: %d\\n\\n" % n,
                        "more_body": True})
            n += 1
            try:
                await asyncio.wait_for(gone.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
        watcher.cancel()
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
"""


def anchors_python() -> Path:
    python = ANCHORS / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ANCHORS)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "starlette",
                "gunicorn",
                "uvicorn-worker",
                "uvicorn[standard]",
            ],
            check=True,
        )
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(kind: str, port: int, extra: dict[str, str]) -> list[str]:
    if kind == "asgiforge":
        cmd = [
            str(ROOT / ".venv/bin/python"),
            "-m",
            "asgiforge",
            "serve",
            "benchapp:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--no-access-log",
            "--timeout",
            str(TIMEOUT),
            "--graceful-timeout",
            "10",
        ]
        if "max_requests" in extra:
            cmd += ["--max-requests", extra["max_requests"], "--max-requests-jitter", "50"]
        return cmd
    python = str(anchors_python())
    if kind == "uvicorn":
        cmd = [
            python,
            "-m",
            "uvicorn",
            "benchapp:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "10",
            "--timeout-worker-healthcheck",
            str(TIMEOUT),
        ]
        if "max_requests" in extra:
            cmd += ["--limit-max-requests", extra["max_requests"]]
        return cmd
    cmd = [
        python,
        "-m",
        "gunicorn",
        "benchapp:app",
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(WORKERS),
        "--timeout",
        str(TIMEOUT),
        "--graceful-timeout",
        "10",
    ]
    if "max_requests" in extra:
        cmd += ["--max-requests", extra["max_requests"], "--max-requests-jitter", "50"]
    return cmd


class Server:
    def __init__(self, kind: str, workdir: Path, **extra: str) -> None:
        self.kind = kind
        self.port = free_port()
        self.log = (workdir / f"{kind}.log").open("ab")
        self.proc = subprocess.Popen(
            command(kind, self.port, extra),
            cwd=workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait_until(lambda: self.get("/") == 200 and len(self.workers()) >= WORKERS, 30):
            self.close()  # never leave a half-started server group behind
            raise RuntimeError(f"{kind} did not start")

    def workers(self) -> set[int]:
        """Live (non-zombie) children of the master, minus multiprocessing's helpers."""
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            alive_child = int(fields[1]) == self.proc.pid and fields[0] != "Z"
            if alive_child and b"resource_tracker" not in cmdline:
                found.add(int(entry.name))
        return found

    def get(self, path: str, timeout: float = 5) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return 0
        finally:
            conn.close()

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.log.close()


def wait_until(predicate: Callable[[], object], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


class Load:
    """32 keep-alive clients sending requests back to back; counts failures."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ok = 0
        self.failed = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(CONNECTIONS)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=20)

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    self.ok += 1
                else:
                    self.failed += 1
                if (response.getheader("connection") or "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                self.failed += 1
                conn.close()
                time.sleep(0.01)
        conn.close()


def sighup_failures(kind: str, workdir: Path) -> str:
    server = Server(kind, workdir)
    try:
        with Load(server.port) as load:
            time.sleep(1)
            for _ in range(3):
                os.kill(server.proc.pid, signal.SIGHUP)
                time.sleep(4)
        return f"{load.failed} of {load.ok + load.failed}"
    finally:
        server.close()


def inflight(kind: str, workdir: Path, sig: int) -> str:
    server = Server(kind, workdir)
    try:
        codes: list[int] = []
        threads = [
            threading.Thread(target=lambda: codes.append(server.get("/slow", 15))) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        os.kill(server.proc.pid, sig)
        for thread in threads:
            thread.join(timeout=20)
        return f"{codes.count(200)}/8"
    finally:
        server.close()


def sigkill_recovery(kind: str, workdir: Path) -> str:
    server = Server(kind, workdir)
    try:
        victim = min(server.workers())
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        back = wait_until(
            lambda: victim not in server.workers() and len(server.workers()) >= WORKERS, 10, 0.002
        )
        return f"{time.monotonic() - t0:.3f} s" if back else "not within 10 s"
    finally:
        server.close()


def blocked_loop(kind: str, workdir: Path) -> str:
    server = Server(kind, workdir)
    try:
        before = server.workers()
        threading.Thread(target=lambda: server.get("/block", 60), daemon=True).start()
        t0 = time.monotonic()
        replaced = wait_until(lambda: len(server.workers() - before) >= 1, 20, 0.02)
        return f"{time.monotonic() - t0:.2f} s" if replaced else "never (20 s)"
    finally:
        server.close()


def recycling(kind: str, workdir: Path) -> str:
    server = Server(kind, workdir, max_requests="200")
    try:
        with Load(server.port) as load:
            time.sleep(10)
        return f"{load.failed} of {load.ok + load.failed}"
    finally:
        server.close()


def sse_shutdown(kind: str, workdir: Path) -> str:
    """SIGTERM to the master while one SSE stream is open: seconds to exit; ERROR if logged."""
    server = Server(kind, workdir)
    try:
        log_path = workdir / f"{kind}.log"
        logged_before = log_path.stat().st_size
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            sock.sendall(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
            seen = b""
            while b"data: 0" not in seen:
                piece = sock.recv(4096)
                if not piece:
                    return "stream never started"
                seen += piece
            start = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            try:
                server.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                return "still running after 60 s"
            elapsed = time.monotonic() - start
        with log_path.open("rb") as log:
            log.seek(logged_before)
            tail = log.read()
        error = b"ERROR" in tail or b"Traceback" in tail
        return f"{elapsed:.2f} s" + (", ERROR logged" if error else ", no ERROR")
    finally:
        server.close()


def main() -> None:
    kinds = ["asgiforge", "uvicorn", "gunicorn"]
    rows: list[tuple[str, list[str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "benchapp.py").write_text(APP)
        measures: list[tuple[str, Callable[[str, Path], str]]] = [
            ("failed requests, 3 SIGHUPs under 32 keep-alive conns", sighup_failures),
            (
                "2 s in-flight requests completed across SIGHUP",
                lambda k, w: inflight(k, w, signal.SIGHUP),
            ),
            (
                "2 s in-flight requests completed across SIGTERM",
                lambda k, w: inflight(k, w, signal.SIGTERM),
            ),
            ("SIGKILL a worker → N live workers again", sigkill_recovery),
            (f"blocked event loop replaced (timeout {TIMEOUT} s)", blocked_loop),
            ("failed requests under --max-requests 200 recycling (10 s)", recycling),
            (
                "SIGTERM with one open SSE stream → master exited (graceful timeout 10 s)",
                sse_shutdown,
            ),
        ]
        for label, measure in measures:
            cells = []
            for kind in kinds:
                try:
                    cells.append(measure(kind, workdir))
                except Exception as exc:  # one anchor failing must not hide the others
                    cells.append(f"error: {exc}")
                print(label, kind, cells[-1], flush=True)
            rows.append((label, cells))
    lines = [
        "## `asgiforge serve` fault measurements",
        "",
        f"Produced by `python bench/serve_faults.py` ({WORKERS} workers, {CONNECTIONS} keep-alive "
        "connections, bare ASGI app, one run, this machine).",
        "",
        "| measure | asgiforge serve | uvicorn --workers | gunicorn + UvicornWorker |",
        "|---|---|---|---|",
        *(f"| {label} | {' | '.join(cells)} |" for label, cells in rows),
        "",
    ]
    write_section(HERE / "RESULTS.md", "serve-faults", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
