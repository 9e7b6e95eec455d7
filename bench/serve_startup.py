"""`asgiforge serve --workers 4` from exec to the first request answered, next to the anchors.

    bench/.venv-anchors/bin/python bench/serve_startup.py [--rounds 15] [--output bench/RESULTS.md]

Three servers on the same bare ASGI app (no framework import, so the figure is the server's
own start-up), four workers each: `asgiforge serve`, `uvicorn --workers 4` and
`gunicorn -k uvicorn_worker.UvicornWorker -w 4`, all from bench/.venv-anchors (an editable install
of this checkout; PYTHONPATH puts this checkout first, so a worktree measures itself). Each
round starts each server once, in a rotated order, on a fresh port: the clock starts just
before exec and stops when a plain HTTP/1.1 GET / has been answered 200 (a client retrying its
connection every millisecond from the moment of exec). The server's process group is then
stopped (TERM, KILL after 10 s) before the next one starts, so they never compete. One
unmeasured round first warms the page cache and the .pyc files.

Two figures per server: the median wall time to the first answer (the target), and "all 4 up",
the time until four distinct worker processes have answered (the first answer needs only one).
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.results import write_section  # noqa: E402

ANCHORS = Path(sys.executable).parent  # the venv running this script: bench/.venv-anchors
WORKERS = 4
TARGET_S = 0.6

APP = """\
import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = str(os.getpid()).encode()
    length = str(len(body)).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", length)]})
    await send({"type": "http.response.body", "body": body})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def commands(port: int) -> dict[str, list[str]]:
    bind = ["--host", "127.0.0.1", "--port", str(port)]
    return {
        "asgiforge serve": [
            str(ANCHORS / "asgiforge"),
            "serve",
            "startapp:app",
            *bind,
            "--workers",
            str(WORKERS),
            "--no-access-log",
        ],
        "uvicorn --workers": [
            str(ANCHORS / "uvicorn"),
            "startapp:app",
            *bind,
            "--workers",
            str(WORKERS),
            "--no-access-log",
        ],
        "gunicorn + UvicornWorker": [
            str(ANCHORS / "gunicorn"),
            "startapp:app",
            "-k",
            "uvicorn_worker.UvicornWorker",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(WORKERS),
        ],
    }


def answer(port: int) -> int | None:
    """The worker pid that answered one GET /, or None if nothing answered yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    try:
        return int(body)
    except ValueError:
        return None


def poll(predicate: Callable[[], bool], deadline: float) -> bool:
    while time.perf_counter() < deadline:
        if predicate():
            return True
        time.sleep(0.001)
    return False


def run_once(argv: list[str], port: int, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the first answer, seconds until WORKERS distinct workers have answered)."""
    seen: set[int] = set()
    first: list[float] = []
    log = (cwd / "server.log").open("ab")
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:

        def answered() -> bool:
            pid = answer(port)
            if pid is not None:
                if not first:
                    first.append(time.perf_counter() - start)
                seen.add(pid)
            return len(seen) >= WORKERS

        complete = poll(answered, start + 30)
        if not first:
            sys.exit(f"{argv[0]} never answered; see {cwd / 'server.log'}")
        all_up = time.perf_counter() - start if complete else float("nan")
        return first[0], all_up
    finally:
        with_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with_group(process, signal.SIGKILL)
            process.wait(timeout=5)
        with_group(process, signal.SIGKILL)  # any worker left behind by its master
        log.close()


def with_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--output", default=str(ROOT / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    for name in ("asgiforge", "uvicorn", "gunicorn"):
        if not (ANCHORS / name).exists():
            sys.exit(f"{ANCHORS / name} is missing: run this with bench/.venv-anchors/bin/python")
    load_start = f"{os.getloadavg()[0]:.2f}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    for name in ("WEB_CONCURRENCY", "PORT", "FORWARDED_ALLOW_IPS"):
        env.pop(name, None)
    # An installed package starts from bytecode (pip compiles it); a sandbox that sets
    # PYTHONDONTWRITEBYTECODE would make every round compile our modules from source again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    names = list(commands(0))
    first: dict[str, list[float]] = {name: [] for name in names}
    all_up: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="asgiforge-serve-startup-") as tmp:
        work = Path(tmp)
        (work / "startapp.py").write_text(APP)
        for name in names:  # warm-up, not measured
            port = free_port()
            run_once(commands(port)[name], port, work, env)
        for round_ in range(args.rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                port = free_port()
                seconds, everyone = run_once(commands(port)[name], port, work, env)
                first[name].append(seconds)
                all_up[name].append(everyone)
    load_end = f"{os.getloadavg()[0]:.2f}"
    text = report(first, all_up, args.rounds, (load_start, load_end))
    write_section(Path(args.output), "serve-startup", text)
    print(text)


def report(
    first: dict[str, list[float]],
    all_up: dict[str, list[float]],
    rounds: int,
    load: tuple[str, str],
) -> str:
    lines = [
        f"## `serve --workers {WORKERS}`: exec to the first request answered "
        "(`bench/.venv-anchors/bin/python bench/serve_startup.py`)\n",
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {rounds} interleaved rounds, "
        f"Python {sys.version.split()[0]}; load average {load[0]} at the start, {load[1]} at "
        "the end (2 cores). A bare ASGI app; a client retries GET / every millisecond from "
        f"exec; 'all {WORKERS} up' is when {WORKERS} distinct worker processes have answered.\n",
        f"| server | first answer, median (min–max) s | all {WORKERS} up, median s "
        "| first answer / uvicorn |",
        "|---|---|---|---|",
    ]
    uvicorn = statistics.median(first["uvicorn --workers"])
    for name, samples in first.items():
        median = statistics.median(samples)
        everyone = [s for s in all_up[name] if s == s]  # NaN: not all workers answered in 30 s
        up = f"{statistics.median(everyone):.3f}" if everyone else "never"
        lines.append(
            f"| `{name}` | {median:.3f} ({min(samples):.3f}–{max(samples):.3f}) | {up} | "
            f"{median / uvicorn:.2f} |"
        )
    ours = statistics.median(first["asgiforge serve"])
    verdict = "met" if ours <= TARGET_S else "MISSED"
    lines += [
        "",
        "| target | figure | |",
        "|---|---|---|",
        f"| `asgiforge serve --workers {WORKERS}`: exec to first answer <= {TARGET_S} s "
        f"| {ours:.3f} s | {verdict} |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
