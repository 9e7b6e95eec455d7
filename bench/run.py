"""Side-by-side benchmarks: bare ASGI vs Starlette vs asgiforge (vs FastAPI), as ratios, in one run.

Usage (from the repository root):  bench/run [--rounds 5] [--duration 5] [--only http,ws,cli,dev,serve]

Every target runs on the same interpreter and the same uvicorn (1 worker, uvloop, httptools, no
access log) from `bench/.venv-anchors`; the server is pinned to CPU 0 and the load generator (wrk,
or the Python WebSocket client) to CPU 1; rounds are interleaved A B C A B C so machine noise hits
every target alike. Medians are reported with the min-max range.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.results import write_section  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent
TARGETS = ["bare", "starlette", "asgiforge", "fastapi"]


@dataclass
class Sample:
    values: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def span(self) -> str:
        if not self.values:
            return "n/a"
        return f"{min(self.values):,.0f}–{max(self.values):,.0f}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not come up")


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def app_module(target: str) -> str:
    return {
        "bare": "bench.apps.bare",
        "starlette": "bench.apps.starlette_app",
        "asgiforge": "bench.apps.asgiforge_app",
        "fastapi": "bench.apps.fastapi_app",
    }[target]


@contextlib.contextmanager
def uvicorn_server(target: str, attr: str = "app", cpu: str = "0") -> Iterator[tuple[int, int]]:
    port = free_port()
    cmd = [
        "taskset",
        "-c",
        cpu,
        PY,
        "-m",
        "uvicorn",
        f"{app_module(target)}:{attr}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    try:
        wait_port(port)
        yield port, proc.pid
    finally:
        kill_group(proc)


def wrk(
    url: str, duration: float, connections: int = 64, script: str | None = None, cpu: str = "1"
) -> tuple[float, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    if cpu:
        cmd = ["taskset", "-c", cpu, *cmd]
    if script:
        cmd += ["-s", str(Path(__file__).parent / script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = (
        float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else float("nan")
    )
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx responses\n{out}")
    return rps, p99


HTTP_SCENARIOS = [
    # (name, app attribute, path, wrk script)
    ("plaintext", "app", "/plaintext", None),
    ("json", "app", "/json", None),
    ("route among ~50", "app", "/users/42", None),
    ("3 pure-ASGI middlewares", "app_mw3", "/json", None),
    ("BaseHTTPMiddleware", "app_basehttp", "/json", None),
    ("POST echo 1 KB JSON", "app", "/echo", "wrk_post.lua"),
    ("64 KiB stream", "app", "/stream", None),
    ("static file", "app", "/static/file.txt", None),
]


def fetch(url: str, body: bytes | None) -> tuple[int, bytes, str]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return int(r.status), bytes(r.read()), str(r.headers.get("content-type"))
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), str(exc.headers.get("content-type"))


def check_apps(targets: list[str]) -> None:
    """Every scenario answers 200 with the same body and content type on every target.

    wrk only counts non-2xx responses (and `wrk()` refuses to report a run with any); this also
    makes sure the apps being compared do the same work.
    """
    # The document wrk_post.lua builds (36 items, ~1 KB).
    items = ",".join(f'{{"id":{i},"name":"item-{i:04d}"}}' for i in range(1, 37))
    document = f"[{items}]".encode()
    reference: dict[str, tuple[int, bytes, str]] = {}
    for attr in sorted({s[1] for s in HTTP_SCENARIOS}):
        for target in targets:
            with uvicorn_server(target, attr) as (port, _):
                for name, scenario_attr, path, script in HTTP_SCENARIOS:
                    if scenario_attr != attr:
                        continue
                    got = fetch(f"http://127.0.0.1:{port}{path}", document if script else None)
                    if got[0] != 200:
                        raise SystemExit(f"{target} {name}: status {got[0]}")
                    want = reference.setdefault(name, got)
                    if got[1:] != want[1:]:
                        raise SystemExit(
                            f"{target} {name}: body or content type differs from {targets[0]}'s:"
                            f" {got[1][:80]!r} {got[2]!r} vs {want[1][:80]!r} {want[2]!r}"
                        )
    print(f"  apps checked: every scenario 200 and identical on {', '.join(targets)}", flush=True)


def bench_http(
    targets: list[str], rounds: int, duration: float, scenarios: str = ""
) -> list[tuple[str, dict[str, Sample]]]:
    check_apps(targets)
    results = []
    wanted = [w.strip() for w in scenarios.split(",") if w.strip()]
    for name, attr, path, script in HTTP_SCENARIOS:
        if wanted and not any(w in name for w in wanted):
            continue
        samples = {t: Sample() for t in targets}
        for _ in range(rounds):
            for target in targets:
                with uvicorn_server(target, attr) as (port, _):
                    url = f"http://127.0.0.1:{port}{path}"
                    wrk(url, 1, script=script)  # warm-up
                    rps, p99 = wrk(url, duration, script=script)
                samples[target].values.append(rps)
                samples[target].p99.append(p99)
        print(
            f"  {name}: " + ", ".join(f"{t} {s.median():,.0f}" for t, s in samples.items()),
            flush=True,
        )
        results.append((name, samples))
    return results


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


WS_CLIENT = textwrap.dedent("""
    import asyncio, sys, time, resource
    import websockets
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    mode, port, n, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    async def main():
        url = f"ws://127.0.0.1:{port}/ws"
        if mode == "idle":
            conns = []
            for i in range(0, n, 100):
                conns += await asyncio.gather(*[websockets.connect(url, max_queue=1) for _ in range(min(100, n - i))])
            print("ready", flush=True)
            sys.stdin.readline()
            return
        count = 0
        stop = time.monotonic() + duration
        async def one():
            nonlocal count
            async with websockets.connect(url) as ws:
                while time.monotonic() < stop:
                    await ws.send("hello")
                    await ws.recv()
                    count += 1
        await asyncio.gather(*[one() for _ in range(n)])
        print(count / duration, flush=True)
    asyncio.run(main())
""")


def bench_ws(
    targets: list[str], rounds: int, duration: float
) -> list[tuple[str, dict[str, Sample]]]:
    import resource

    # Servers inherit this: 2,000 connections need more than the usual 1,024 descriptors.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    mem = {t: Sample() for t in targets}
    echo = {t: Sample() for t in targets}
    for _ in range(rounds):
        for target in targets:
            with uvicorn_server(target) as (port, pid):
                time.sleep(0.5)
                before = rss_kb(pid)
                client = subprocess.Popen(
                    ["taskset", "-c", "1", PY, "-c", WS_CLIENT, "idle", str(port), "2000", "0"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
                try:
                    line = client.stdout.readline()  # type: ignore[union-attr]
                    if line.strip() != "ready":
                        raise RuntimeError("websocket client failed")
                    time.sleep(1.0)
                    mem[target].values.append((rss_kb(pid) - before) / 2000)
                finally:
                    kill_group(client)
            with uvicorn_server(target) as (port, _):
                out = subprocess.run(
                    [
                        "taskset",
                        "-c",
                        "1",
                        PY,
                        "-c",
                        WS_CLIENT,
                        "echo",
                        str(port),
                        "16",
                        str(duration),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=duration + 60,
                )
                echo[target].values.append(float(out.stdout.strip() or "nan"))
    print(
        "  ws memory KB/conn: " + ", ".join(f"{t} {s.median():.1f}" for t, s in mem.items()),
        flush=True,
    )
    print(
        "  ws echo msg/s: " + ", ".join(f"{t} {s.median():,.0f}" for t, s in echo.items()),
        flush=True,
    )
    return [("WebSocket KB per idle connection", mem), ("WebSocket echo msg/s", echo)]


def time_cmd(cmd: list[str], runs: int) -> Sample:
    sample = Sample()
    subprocess.run(cmd, capture_output=True, cwd=ROOT)  # warm the page cache and .pyc files
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False)
        sample.values.append(time.perf_counter() - start)
    return sample


def bench_cli(runs: int) -> list[tuple[str, Sample]]:
    cmds = [
        ("asgiforge --help", [str(BIN / "asgiforge"), "--help"]),
        ("asgiforge routes", [str(BIN / "asgiforge"), "routes", "bench.apps.asgiforge_app:app"]),
        ("uvicorn --help", [str(BIN / "uvicorn"), "--help"]),
    ]
    if (BIN / "fastapi").exists():
        cmds.append(("fastapi --help", [str(BIN / "fastapi"), "--help"]))
    return [(name, time_cmd(cmd, runs)) for name, cmd in cmds]


RELOAD_APP = 'async def app(scope, receive, send):\n    if scope["type"] != "http":\n        return\n    await send({{"type": "http.response.start", "status": 200, "headers": []}})\n    await send({{"type": "http.response.body", "body": b"{v}"}})\n'


def get(url: str, timeout: float = 1.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return bytes(r.read())
    except Exception:
        return None


def reload_latency(kind: str, rounds: int) -> Sample:
    sample = Sample()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "main.py").write_text(RELOAD_APP.format(v="v0"))
        port = free_port()
        if kind == "asgiforge dev":
            cmd = [str(BIN / "asgiforge"), "dev", "main:app", "--port", str(port)]
        else:
            cmd = [PY, "-m", "uvicorn", "main:app", "--reload", "--port", str(port)]
        proc = subprocess.Popen(
            cmd,
            cwd=tmp,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port)
            deadline = time.monotonic() + 20
            while get(f"http://127.0.0.1:{port}/") != b"v0" and time.monotonic() < deadline:
                time.sleep(0.05)
            for i in range(1, rounds + 1):
                time.sleep(1.0)  # let the previous reload settle
                want = f"v{i}".encode()
                start = time.perf_counter()
                (Path(tmp) / "main.py").write_text(RELOAD_APP.format(v=f"v{i}"))
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    if get(f"http://127.0.0.1:{port}/", 0.5) == want:
                        sample.values.append(time.perf_counter() - start)
                        break
                    time.sleep(0.005)
        finally:
            kill_group(proc)
    return sample


def mem_kb(pid: int) -> tuple[int, int, int]:
    """(RSS, PSS, USS) in KB. Forked workers share the master's pages: RSS counts them in full
    in every worker, PSS divides them among the sharers, USS counts only private pages."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            fields[name] = int(rest.split()[0])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return fields.get("Rss", 0), fields.get("Pss", 0), uss


def worker_pids(master: int) -> list[int]:
    """The master's children that serve requests (not multiprocessing's resource tracker)."""
    pids = []
    for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"resource_tracker" not in cmdline:
            pids.append(int(child))
    return pids


SERVE_APP = "bench.apps.asgiforge_app:app"


def bench_serve(duration: float, rounds: int) -> list[tuple[str, Sample, list[Sample]]]:
    """Two workers each; wrk unpinned (there are only two cores for three processes).

    The three servers run the same asgiforge app, so the throughput compares the servers; the
    last row, uvicorn with the Starlette app, is the reference for the idle-memory target.
    """

    def uvicorn_cmd(app: str) -> Any:
        return lambda p: [
            PY,
            "-m",
            "uvicorn",
            app,
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(p),
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    servers = {
        "asgiforge serve --workers 2": lambda p: [
            str(BIN / "asgiforge"),
            "serve",
            SERVE_APP,
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(p),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        "uvicorn --workers 2": uvicorn_cmd(SERVE_APP),
        "gunicorn + uvicorn-worker": lambda p: [
            str(BIN / "gunicorn"),
            SERVE_APP,
            "-k",
            "uvicorn_worker.UvicornWorker",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{p}",
            "--log-level",
            "warning",
        ],
        "uvicorn --workers 2, Starlette app": uvicorn_cmd("bench.apps.starlette_app:app"),
    }
    rps = {k: Sample() for k in servers}
    mem = {k: [Sample(), Sample(), Sample()] for k in servers}
    for _ in range(rounds):
        for name, make in servers.items():
            port = free_port()
            proc = subprocess.Popen(make(port), cwd=ROOT, start_new_session=True)
            try:
                wait_port(port)
                time.sleep(2.0)
                workers = worker_pids(proc.pid)
                figures = [mem_kb(pid) for pid in workers]
                for i in range(3):
                    mem[name][i].values.append(statistics.mean(f[i] for f in figures) / 1024)
                wrk(f"http://127.0.0.1:{port}/json", 1, cpu="")
                rps[name].values.append(wrk(f"http://127.0.0.1:{port}/json", duration, cpu="")[0])
            finally:
                kill_group(proc)
    return [(name, rps[name], mem[name]) for name in servers]


EMPTY = Sample([float("nan")], [float("nan")])


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


# Issue 7's targets: (scenario, minimum ratio of asgiforge to the bare callable).
BARE_TARGETS = {
    "plaintext": 0.92,
    "json": 0.92,
    "route among ~50": 0.85,
    "3 pure-ASGI middlewares": 0.80,
    "POST echo 1 KB JSON": 0.90,
    "WebSocket echo msg/s": 0.97,
}


def target_rows(http: list, ws: list, cli: list, dev: list, serve: list) -> list[str]:
    """One row per target of issue 7 found in this run: the figure and met / MISSED."""
    rows: list[tuple[str, str, bool]] = []

    def med(s: dict[str, Sample], t: str) -> float:
        return s[t].median() if t in s else float("nan")

    for name, s in [*http, *ws]:
        a, bare, star = med(s, "asgiforge"), med(s, "bare"), med(s, "starlette")
        if name == "WebSocket KB per idle connection":
            rows.append((f"{name} <= 28 KB", f"{a:.1f} KB (bare {bare:.1f})", a <= 28))
            rows.append((f"{name} <= Starlette's / 1.2", f"{a:.1f} vs {star:.1f}", a * 1.2 <= star))
            continue
        if name in BARE_TARGETS:
            goal = BARE_TARGETS[name]
            rows.append((f"{name} >= {goal:.2f} x bare", f"{a / bare:.2f}", a / bare >= goal))
        rows.append((f"{name} >= 1.2 x Starlette", f"{a / star:.2f}", a / star >= 1.2))
        if name in dict(http):
            pa = statistics.median(s["asgiforge"].p99)
            ps = statistics.median(s["starlette"].p99) if "starlette" in s else float("nan")
            rows.append((f"{name} p99 <= Starlette's", f"{pa:.2f} / {ps:.2f} ms", pa <= ps))
    for name, sample in cli:
        if name == "asgiforge --help":
            rows.append(
                (
                    "`asgiforge --help` <= 0.15 s",
                    f"{sample.median():.3f} s",
                    sample.median() <= 0.15,
                )
            )
    for name, sample in dev:
        if name == "asgiforge dev":
            rows.append(
                ("dev reload median <= 0.20 s", f"{sample.median():.3f} s", sample.median() <= 0.20)
            )
    by_name = {name: (r, m) for name, r, m in serve}
    ours, theirs = by_name.get("asgiforge serve --workers 2"), by_name.get("uvicorn --workers 2")
    reference = by_name.get("uvicorn --workers 2, Starlette app")
    if ours and theirs:
        a, u = ours[0].median(), theirs[0].median()
        rows.append(
            ("serve --workers 2 >= uvicorn --workers 2 (req/s)", f"{a:,.0f} vs {u:,.0f}", a >= u)
        )
    if ours and reference:
        for i, label in enumerate(("RSS", "PSS")):
            a, r = ours[1][i].median(), reference[1][i].median()
            rows.append(
                (
                    f"idle {label} per worker <= Starlette app's under uvicorn",
                    f"{a:.1f} vs {r:.1f} MiB",
                    a <= r,
                )
            )
    lines = ["## Targets (issue 7)\n", "| target | this run | |", "|---|---|---|"]
    lines += [f"| {t} | {v} | {'met' if ok else '**MISSED**'} |" for t, v, ok in rows]
    return [*lines, ""]


def report(
    args: argparse.Namespace, http: list, ws: list, cli: list, dev: list, serve: list
) -> str:
    lines = [
        "# Benchmark results\n",
        f"Run on {datetime.date.today()} with `{' '.join(['bench/run', *sys.argv[1:]])}`.",
        f"Python {sys.version.split()[0]}; {args.rounds} interleaved rounds of {args.duration:g} s per target; "
        "uvicorn 1 worker, uvloop, httptools, no access log; server on CPU 0, load on CPU 1; wrk -t1 -c64.",
        "Cells: median (min–max). Ratios are of medians.\n",
    ]
    if http:
        targets = list(http[0][1])
        lines.append("## HTTP (requests/s)\n")
        head = (
            "| scenario | "
            + " | ".join(targets)
            + " | asgiforge / bare | asgiforge / Starlette | p99 ms asgiforge / Starlette |"
        )
        lines += [head, "|" + "---|" * (len(targets) + 4)]
        for name, s in http:
            cells = [f"{s[t].median():,.0f} ({s[t].span()})" for t in targets]
            p99 = f"{statistics.median(s.get('asgiforge', EMPTY).p99):.2f} / {statistics.median(s.get('starlette', EMPTY).p99):.2f}"
            lines.append(
                f"| {name} | "
                + " | ".join(cells)
                + f" | {ratio(s.get('asgiforge', EMPTY).median(), s.get('bare', EMPTY).median())} | "
                f"{ratio(s.get('asgiforge', EMPTY).median(), s.get('starlette', EMPTY).median())} | {p99} |"
            )
        lines.append("")
    if ws:
        targets = list(ws[0][1])
        lines.append("## WebSockets\n")
        lines += [
            "| measure | " + " | ".join(targets) + " | asgiforge / bare | asgiforge / Starlette |",
            "|" + "---|" * (len(targets) + 3),
        ]
        for name, s in ws:
            cells = [
                f"{s[t].median():,.1f} ({min(s[t].values):,.1f}–{max(s[t].values):,.1f})"
                for t in targets
            ]
            lines.append(
                f"| {name} | "
                + " | ".join(cells)
                + f" | {ratio(s.get('asgiforge', EMPTY).median(), s.get('bare', EMPTY).median())} | {ratio(s.get('asgiforge', EMPTY).median(), s.get('starlette', EMPTY).median())} |"
            )
        lines.append("")
    if cli:
        lines += [
            "## Command start-up (wall seconds)\n",
            "| command | median | min–max |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{n}` | {s.median():.3f} | {min(s.values):.3f}–{max(s.values):.3f} |"
            for n, s in cli
        ]
        lines.append("")
    if dev:
        lines += [
            "## Reload: file saved → new response served (seconds)\n",
            "| server | median | min–max | n |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {n} | {s.median():.3f} | {min(s.values, default=float('nan')):.3f}–{max(s.values, default=float('nan')):.3f} | {len(s.values)} |"
            for n, s in dev
        ]
        lines.append("")
    if serve:
        lines += [
            "## Two workers (GET /json, wrk -c64 unpinned: two cores for three processes)\n",
            "The first three rows serve the same asgiforge app; the last is the Starlette app under "
            "uvicorn, the reference for the idle-memory target. Memory is per worker after start-up "
            "and 2 s idle, in MiB: RSS counts pages shared with a forking master in full in every "
            "worker, PSS shares them out, USS counts private pages only.\n",
            "| server | requests/s | RSS | PSS | USS |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {n} | {r.median():,.0f} ({r.span()}) | {m[0].median():.1f} | "
            f"{m[1].median():.1f} | {m[2].median():.1f} |"
            for n, r, m in serve
        ]
        lines.append("")
    lines += target_rows(http, ws, cli, dev, serve)
    return "\n".join(lines)


def save_raw(path: Path, http: list, ws: list, cli: list, dev: list, serve: list) -> None:
    """Every sample of the run, written before the report is rendered (nothing is lost)."""
    import json

    def dump(sample: Sample) -> dict[str, list[float]]:
        return {"values": sample.values, "p99": sample.p99}

    data = {
        "argv": sys.argv[1:],
        "http": [[n, {t: dump(x) for t, x in s.items()}] for n, s in http],
        "ws": [[n, {t: dump(x) for t, x in s.items()}] for n, s in ws],
        "cli": [[n, dump(x)] for n, x in cli],
        "dev": [[n, dump(x)] for n, x in dev],
        "serve": [[n, dump(r), [dump(m) for m in ms]] for n, r, ms in serve],
    }
    path.write_text(json.dumps(data))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--only", default="http,ws,cli,dev,serve")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset")
    parser.add_argument(
        "--scenarios", default="", help="HTTP scenarios whose name contains one of these (a,b)"
    )
    parser.add_argument("--output", default=str(Path(__file__).parent / "RESULTS.md"))
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("bench needs wrk and taskset: apt-get install wrk util-linux")
    only = set(args.only.split(","))
    targets = [t for t in TARGETS if t in args.targets.split(",")]
    http = bench_http(targets, args.rounds, args.duration, args.scenarios) if "http" in only else []
    ws = bench_ws(targets, args.rounds, args.duration) if "ws" in only else []
    cli = bench_cli(max(10, args.rounds * 4)) if "cli" in only else []
    dev = (
        [
            (k, reload_latency(k, max(5, args.rounds * 2)))
            for k in ("asgiforge dev", "uvicorn --reload")
        ]
        if "dev" in only
        else []
    )
    serve = bench_serve(args.duration, args.rounds) if "serve" in only else []
    save_raw(Path(args.output).with_suffix(".json"), http, ws, cli, dev, serve)
    text = report(args, http, ws, cli, dev, serve)
    # Only our own section: RESULTS.md also holds bench/serve_faults.py's figures.
    write_section(Path(args.output), "run", text, first=True)
    print(text)


if __name__ == "__main__":
    main()
