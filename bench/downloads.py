"""File downloads: the ``files`` group of `bench/run.py` (``--only files``).

Three servers, one after the other in each round (interleaved as every other group), all pinned
to CPU 0 with wrk on CPU 1:

* ``os.sendfile floor``: `bench/sendfile_floor.py`, a minimal asyncio server that answers every
  request with the file by `os.sendfile`;
* ``asgiforge serve, pathsend``: ``asgiforge serve --workers 1 --loop uvloop --http httptools``
  running `bench/apps/files_app.py`'s ``app`` (`FileResponse` / `StaticFiles` see the server's
  ``http.response.pathsend`` extension and use it);
* ``asgiforge serve, no pathsend``: the same server and app behind a middleware hiding the
  extension (``app_no_pathsend``): the body is read in chunks in a thread and written through
  the transport, as under any server without the extension.

The file rows run under ``asgiforge serve``, not uvicorn, because the extension exists only in
asgiforge's protocol layer. The 10 MiB row is bytes/s (wrk's requests/s times the file size,
with 4 connections); the static row is requests/s for the small file of the other bench apps.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.run import (
    BIN,
    PY,
    ROOT,
    Sample,
    free_port,
    kill_group,
    tree_cpu,
    tree_cpu_delta,
    wait_port,
    wrk,
    wrk_run,
)

SIZE = 10 * 1024 * 1024
FLOOR = "os.sendfile floor"
ON = "asgiforge serve, pathsend"
OFF = "asgiforge serve, no pathsend"
SERVERS = [FLOOR, ON, OFF]
# (row name, path, wrk connections, servers measured, bytes per request for a bytes/s row)
SCENARIOS = [
    ("10 MiB download (MB/s)", "/big", 4, SERVERS, SIZE),
    ("static file (req/s)", "/static/file.txt", 64, [ON, OFF], 0),
]
TARGET_RATIO = 0.90  # issue 17: the download at >= 0.9x the floor's bytes/s


def command(server: str, port: int, big: Path) -> list[str]:
    if server == FLOOR:
        floor = str(Path(__file__).parent / "sendfile_floor.py")
        return [PY, floor, "--port", str(port), "--file", str(big)]
    attr = "app" if server == ON else "app_no_pathsend"
    return [
        str(BIN / "asgiforge"),
        "serve",
        f"bench.apps.files_app:{attr}",
        *("--workers", "1", "--loop", "uvloop", "--http", "httptools"),
        *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
        *("--log-level", "warning"),
    ]


@contextlib.contextmanager
def running(server: str, big: Path) -> Iterator[tuple[int, int]]:
    port = free_port()
    env = {**os.environ, "BENCH_BIG_FILE": str(big)}
    cmd = ["taskset", "-c", "0", *command(server, port, big)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_port(port)
        yield port, proc.pid
    finally:
        kill_group(proc)


def check(url: str, length: int) -> None:
    """The server answers 200 with the whole file before it is measured."""
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    if response.status != 200 or (length and len(body) != length):
        raise SystemExit(f"{url}: status {response.status}, {len(body)} bytes")


def bench_files(rounds: int, duration: float) -> list[tuple[str, dict[str, Sample]]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-files-") as directory:
        big = Path(directory) / "big.bin"
        big.write_bytes(os.urandom(SIZE))
        for name, path, connections, servers, size in SCENARIOS:
            samples = {s: Sample() for s in servers}
            for round_ in range(rounds):
                for server in servers:
                    with running(server, big) as (port, pid):
                        url = f"http://127.0.0.1:{port}{path}"
                        if round_ == 0:
                            check(url, size)
                        wrk(url, 1, connections)  # warm-up
                        before = tree_cpu(pid)
                        run = wrk_run(url, duration, connections)
                        cpu = tree_cpu_delta(before, tree_cpu(pid))
                    value = run.rps * size / 1e6 if size else run.rps
                    samples[server].values.append(value)
                    samples[server].p99.append(run.p99_ms)
                    samples[server].add("server_us_per_req", cpu / max(run.requests, 1) * 1e6)
            print(
                f"  {name}: " + ", ".join(f"{s} {x.median():,.0f}" for s, x in samples.items()),
                flush=True,
            )
            results.append((name, samples))
    return results


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def files_report(files: list[tuple[str, dict[str, Sample]]]) -> str:
    """The files section and its targets, for RESULTS.md."""
    lines = [
        "## Files (asgiforge serve, 1 worker, uvloop, httptools; CPU 0, wrk on CPU 1)\n",
        "The floor is `bench/sendfile_floor.py` (asyncio + `os.sendfile`); the other two are "
        "`bench/apps/files_app.py` with the `http.response.pathsend` extension used or hidden. "
        "Cells: median (min–max); server CPU µs per request in brackets after the median.\n",
        f"| scenario | {' | '.join(SERVERS)} | pathsend / floor | pathsend / no pathsend |",
        "|---|---|---|---|---|---|",
    ]
    rows: list[tuple[str, str, bool]] = []
    for name, samples in files:
        cells = []
        for server in SERVERS:
            x = samples.get(server)
            if x is None:
                cells.append("—")
                continue
            cpu = x.extra_median("server_us_per_req")
            cells.append(f"{x.median():,.0f} ({x.span()}) [{cpu:,.0f} µs]")
        on = samples[ON].median()
        floor = samples[FLOOR].median() if FLOOR in samples else 0.0
        lines.append(
            f"| {name} | {' | '.join(cells)} | {ratio(on, floor) if floor else '—'} | "
            f"{ratio(on, samples[OFF].median())} |"
        )
        if floor:
            goal = f"{name} >= {TARGET_RATIO:.2f} x os.sendfile floor"
            rows.append((goal, f"{on / floor:.2f}", on / floor >= TARGET_RATIO))
    lines += ["", "## Targets (issue 17, files)\n", "| target | this run | |", "|---|---|---|"]
    lines += [f"| {t} | {v} | {'met' if ok else '**MISSED**'} |" for t, v, ok in rows]
    return "\n".join([*lines, ""])
