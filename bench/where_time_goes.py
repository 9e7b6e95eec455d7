"""Where a server process spends its time: py-spy samples of uvicorn under load, summarised.

Usage (from the repository root; needs `wrk` and bench/.venv-anchors, which has py-spy):
    bench/.venv-anchors/bin/python bench/where_time_goes.py [--targets bare,asgiforge]
        [--scenarios plaintext,json,ws-websockets-sansio,ws-wsproto] [--duration 6]

Each (target, scenario) starts the benchmark app under `uvicorn --loop uvloop --http httptools
--no-access-log` (pinned to CPU 0 when `taskset` exists), loads it with `wrk -t1 -c64` (HTTP) or
`bench/wsload.py echo` (WebSocket, 16 connections) on CPU 1, and samples the server with
`py-spy record --format raw` meanwhile. It prints, per pair, the share of samples *inside* each
layer (inclusive: uvicorn's protocol, the app and below, the runtime's modules) and the top
functions by own time. Shares of one process's samples are what to compare: on a loaded
machine absolute rates mean little, the split between server and application much more.
Every spawned process group is killed at the end of its pair.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
APPS = {
    "bare": "bench.apps.bare:app",
    "starlette": "bench.apps.starlette_app:app",
    "asgiforge": "bench.apps.asgiforge_app:app",
}
PATHS = {"plaintext": "/plaintext", "json": "/json", "stream": "/stream"}
# Inclusive layers: a sample counts for a layer when any of its frames matches.
LAYERS = [
    ("uvicorn protocol (whole request)", ("uvicorn/protocols",)),
    ("app call (everything the app does)", ("run_asgi",)),
    ("asgiforge.runtime (all of it)", ("asgiforge/runtime",)),
    ("Response/JSONResponse built", ("Response.__init__",)),
    ("Request built", ("Request.__init__",)),
]
# Own time (the sampled leaf frame) grouped by where its code lives.
PACKAGES = [
    ("uvicorn", "uvicorn/"),
    ("asgiforge.runtime", "asgiforge/runtime/"),
    ("the benchmark app's own code", "bench/apps/"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


def pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def profile(target: str, scenario: str, duration: float, out: Path) -> None:
    port = free_port()
    cmd = [str(BIN / "python"), "-m", "uvicorn", APPS[target], "--port", str(port)]
    cmd += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "error"]
    if scenario.startswith("ws-"):
        cmd += ["--ws", scenario[3:]]
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}
    server = subprocess.Popen(pin(0) + cmd, cwd=ROOT, env=env, start_new_session=True)
    load: subprocess.Popen[bytes] | None = None
    try:
        wait_port(port, time.monotonic() + 20)
        if scenario.startswith("ws-"):
            load_cmd = [str(BIN / "python"), str(ROOT / "bench" / "wsload.py"), "echo"]
            load_cmd += ["--port", str(port), "--duration", str(duration + 2)]
        else:
            url = f"http://127.0.0.1:{port}{PATHS[scenario]}"
            load_cmd = ["wrk", "-t1", "-c64", f"-d{duration + 2:.0f}s", url]
        load = subprocess.Popen(
            pin(1) + load_cmd, stdout=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(1)  # past connection set-up and warm-up, then sample
        spy = [str(BIN / "py-spy"), "record", "--pid", str(server.pid), "--format", "raw"]
        spy += ["--rate", "400", "--duration", str(int(duration)), "--output", str(out)]
        subprocess.run(spy, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        if load is not None:
            kill_group(load)
        kill_group(server)


def summarise(path: Path, top: int) -> list[str]:
    own: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    layers: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames and frames[0].startswith("process"):
            frames = frames[1:]
        total += count
        leaf = _short(frames[-1])
        own[leaf] += count
        home = next((name for name, part in PACKAGES if part in frames[-1]), "other")
        packages[home] += count
        for name, needles in LAYERS:
            if any(any(n in _short(f) or n in f for n in needles) for f in frames):
                layers[name] += count
    if not total:
        return ["(no samples)"]
    lines = [f"samples: {total}", "inclusive share of the process's samples:"]
    lines += [f"  {layers[name] / total:6.1%}  {name}" for name, _ in LAYERS]
    lines.append("own time by package:")
    lines += [f"  {packages[name] / total:6.1%}  {name}" for name, _ in PACKAGES]
    lines.append(
        f"  {packages['other'] / total:6.1%}  other (asyncio, the websockets/wsproto libraries, "
        "and runners.py:Runner.run = uvloop's C loop: socket I/O and waiting)"
    )
    lines.append(f"top {top} functions by own time:")
    lines += [f"  {count / total:6.1%}  {name}" for name, count in own.most_common(top)]
    return lines


def _short(frame: str) -> str:
    """`func (path/to/file.py:12)` -> `file.py:func` with a package hint."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    parts = file.split("/")
    tail = "/".join(parts[-3:]) if "uvicorn" in parts or "asgiforge" in parts else parts[-1]
    return f"{tail}:{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="bare,asgiforge")
    parser.add_argument("--scenarios", default="plaintext,json,ws-websockets-sansio,ws-wsproto")
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenarios.split(","):
            for target in args.targets.split(","):
                out = Path(tmp) / f"{target}-{scenario}.txt"
                profile(target, scenario, args.duration, out)
                print(f"### {target} / {scenario}")
                print("\n".join(summarise(out, args.top)))
                print()


if __name__ == "__main__":
    main()
