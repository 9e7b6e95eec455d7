"""Broadcast fan-out: 100 WebSocket subscribers across `asgiforge serve --workers 2`.

Usage:
    python bench/fanout.py [--subscribers 100] [--rates 100,300,1000] [--duration 3] [--rounds 3]
                           [--output PATH]

Three backends, each on its own server, the three running side by side in one run:

* ``embedded``: the app's `Broadcast("local://")` (Unix datagram sockets between the workers).
* ``redis``: the same app on `Broadcast("redis://...")`, against Debian's redis-server on loopback.
* ``redis-py direct``: the floor. The same two routes written by hand on redis-py: each worker
  holds one Pub/Sub connection and fans out to per-connection bounded queues itself.

For each rate in `--rates` (lowest first, on the same connections), one publisher WebSocket
sends that many messages per second for `--duration` s. Latency is the time from the publisher
client writing a message to a subscriber client reading it (CLOCK_MONOTONIC is shared by all
processes), so it includes the publisher's and the subscriber's WebSocket hops. "Delivered" counts
the messages read by all subscribers together per second, from the first send to the last read; a
subscriber queue that overflows drops its oldest messages, which shows as "lost". When the
offered load (rate times subscribers) is more than the machine can carry, latency grows with the
backlog and the queues drop: the delivered figure is then the capacity.

The subscribers' client is a raw asyncio protocol (as in `wsload.py`) so that it, not the
server, is cheap; on a small machine the client and the server still share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
MARK_START, MARK_END = "<!-- fanout:start -->", "<!-- fanout:end -->"

APP = """
import asyncio
import os
from collections import deque
from contextlib import asynccontextmanager

from asgiforge.runtime.applications import App
from asgiforge.runtime.routing import WebSocketRoute
from asgiforge.runtime.websockets import WebSocketDisconnect

MODE = os.environ["FANOUT_MODE"]
URL = os.environ["FANOUT_URL"]
QUEUE = 100

if MODE == "broadcast":
    import anyio
    from asgiforge.runtime.broadcast import Broadcast

    @asynccontextmanager
    async def lifespan(app):
        async with Broadcast(URL, queue_size=QUEUE) as bus:
            yield {"bus": bus}

    async def sub(ws):
        bus = ws.state.bus
        await ws.accept()
        async with bus.subscribe("bench") as messages:
            await ws.send_text("ready")
            async with anyio.create_task_group() as tasks:
                async def forward():
                    async for event in messages:
                        await ws.send_text(event.message)
                tasks.start_soon(forward)
                try:
                    await ws.receive_text()
                except WebSocketDisconnect:
                    pass
                tasks.cancel_scope.cancel()

    async def pub(ws):
        bus = ws.state.bus
        await ws.accept()
        try:
            while True:
                await bus.publish("bench", await ws.receive_text())
        except WebSocketDisconnect:
            pass

else:  # the same fan-out written directly on redis-py Pub/Sub
    import redis.asyncio as redis

    class Queue:
        def __init__(self):
            self.items = deque()
            self.wakeup = asyncio.Event()

        def put(self, item):
            if len(self.items) >= QUEUE:
                self.items.popleft()
            self.items.append(item)
            self.wakeup.set()

        async def get(self):
            while not self.items:
                self.wakeup.clear()
                await self.wakeup.wait()
            return self.items.popleft()

    @asynccontextmanager
    async def lifespan(app):
        client = redis.Redis.from_url(URL)
        queues = set()

        async def listen():
            pubsub = client.pubsub()
            await pubsub.subscribe("bench")
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    text = message["data"].decode()
                    for queue in queues:
                        queue.put(text)

        task = asyncio.create_task(listen())
        yield {"client": client, "queues": queues}
        task.cancel()
        await client.aclose()

    async def sub(ws):
        queues = ws.state.queues
        await ws.accept()
        queue = Queue()
        queues.add(queue)
        await ws.send_text("ready")

        async def forward():
            while True:
                await ws.send_text(await queue.get())

        task = asyncio.create_task(forward())
        try:
            await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            queues.discard(queue)
            task.cancel()

    async def pub(ws):
        client = ws.state.client
        await ws.accept()
        try:
            while True:
                await client.publish("bench", await ws.receive_text())
        except WebSocketDisconnect:
            pass


app = App(routes=[WebSocketRoute("/sub", sub), WebSocketRoute("/pub", pub)], lifespan=lifespan)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port} after {timeout}s")


def kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


class Subscriber(asyncio.Protocol):
    """Reads unmasked server text frames "seq:sent_ns" and records (seq, sent ns, read ns)."""

    def __init__(self, sink: list[tuple[int, int, int]], ready: asyncio.Future[None]) -> None:
        self.sink, self.ready = sink, ready
        self.buffer = b""
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16))
        transport.write(  # type: ignore[attr-defined]
            b"GET /sub HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buffer = self.buffer + data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            self.upgraded, buffer = True, buffer[end + 4 :]
        pos = 0
        while len(buffer) - pos >= 2:
            length = buffer[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if len(buffer) - pos < 4:
                    break
                length, head = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if len(buffer) - pos < 10:
                    break
                length, head = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), 10
            if len(buffer) - pos < head + length:
                break
            opcode = buffer[pos] & 0x0F
            payload = buffer[pos + head : pos + head + length]
            pos += head + length
            if opcode != 1:  # only text frames carry messages (close/ping are ignored)
                continue
            if payload == b"ready":
                if not self.ready.done():
                    self.ready.set_result(None)
                continue
            seq, _, sent = payload.partition(b":")
            if not (seq.isdigit() and sent.isdigit()):
                raise ValueError(f"unexpected frame {payload[:40]!r} at {pos}")
            self.sink.append((int(seq), int(sent), now))
        self.buffer = buffer[pos:]


async def run_row(
    port: int, subscribers: int, rates: list[int], duration: float
) -> dict[int, dict[str, float]]:
    """Per rate (lowest first): latency percentiles, deliveries per second and losses."""
    loop = asyncio.get_running_loop()
    sinks: list[list[tuple[int, int, int]]] = [[] for _ in range(subscribers)]
    transports = []
    readies = []
    for sink in sinks:
        ready = loop.create_future()
        transport, _ = await loop.create_connection(
            lambda s=sink, r=ready: Subscriber(s, r), "127.0.0.1", port
        )
        transports.append(transport)
        readies.append(ready)
    await asyncio.wait_for(asyncio.gather(*readies), 20)
    results: dict[int, dict[str, float]] = {}
    try:
        async with connect(f"ws://127.0.0.1:{port}/pub", compression=None) as pub:
            for index, rate in enumerate(sorted(rates)):
                base = index * 10_000_000
                count = int(rate * duration)
                start = time.monotonic()
                first_ns = time.monotonic_ns()
                for n in range(count):
                    delay = start + n / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await pub.send(f"{base + n}:{time.monotonic_ns()}")
                await settle(sinks, count, 15)
                got = [(sent, read) for sink in sinks for s, sent, read in sink if s >= base]
                latencies = sorted(read - sent for sent, read in got)
                last_ns = max((read for _, read in got), default=first_ns)
                results[rate] = {
                    "p50_ms": statistics.median(latencies) / 1e6 if latencies else float("nan"),
                    "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] / 1e6
                    if latencies
                    else float("nan"),
                    "delivered_per_s": len(got) / max(last_ns - first_ns, 1) * 1e9,
                    "lost": count * subscribers - len(got),
                }
                for sink in sinks:
                    sink.clear()
    finally:
        for transport in transports:
            transport.close()
    return results


async def settle(sinks: list[list[tuple[int, int, int]]], count: int, timeout: float) -> None:
    """Wait until everyone has `count` or the totals stop growing for 0.5 s (at most `timeout`)."""
    deadline = time.monotonic() + timeout
    previous = -1
    while time.monotonic() < deadline:
        total = sum(len(s) for s in sinks)
        if total >= count * len(sinks) or total == previous:
            return
        previous = total
        await asyncio.sleep(0.5)


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_port(port, proc)
    return proc, port


def serve(directory: Path, mode: str, url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "FANOUT_MODE": mode, "FANOUT_URL": url}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asgiforge",
            "serve",
            "fanoutapp:app",
            "--app-dir",
            str(directory),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    wait_port(port, proc)
    time.sleep(1.0)  # both workers up (the port answers as soon as the first one is)
    return proc, port


def render(
    rows: list[tuple[str, dict[int, list[dict[str, float]]]]], args: argparse.Namespace
) -> str:
    def median(samples: list[dict[str, float]], key: str) -> float:
        return statistics.median(sample[key] for sample in samples)

    floor = dict(rows).get("redis-py direct", {})
    lines = [
        "## Broadcast fan-out",
        "",
        f"`python bench/fanout.py --subscribers {args.subscribers} --rates {args.rates} "
        f"--duration {args.duration:g} --rounds {args.rounds}`: {args.subscribers} WebSocket "
        "subscribers across `asgiforge serve --workers 2`, one publisher WebSocket sending at a "
        f"fixed rate for {args.duration:g} s; the three servers run side by side and the "
        f"{args.rounds} rounds are interleaved; medians over rounds (delivered: min–max too). "
        "The client and the servers share the machine's cores. Latency: publisher client write "
        "→ subscriber client read. Delivered: messages read by all subscribers together per "
        "second; lost: dropped by full subscriber queues (oldest first). Load average when the "
        f"run started: {args.load:.1f} on {os.cpu_count()} cores (other work on the machine "
        "competes for them).",
        "",
        "| backend | rate msg/s | p50 ms | p99 ms | delivered msg/s | / redis-py direct | lost |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, by_rate in rows:
        for rate, samples in sorted(by_rate.items()):
            if not samples:
                continue
            delivered = median(samples, "delivered_per_s")
            low = min(sample["delivered_per_s"] for sample in samples)
            high = max(sample["delivered_per_s"] for sample in samples)
            base = median(floor[rate], "delivered_per_s") if floor.get(rate) else None
            ratio = f"{delivered / base:.2f}" if base else "–"
            lines.append(
                f"| {name} | {rate:,} | {median(samples, 'p50_ms'):.2f} "
                f"| {median(samples, 'p99_ms'):.2f} | {delivered:,.0f} ({low:,.0f}–{high:,.0f}) "
                f"| {ratio} | {median(samples, 'lost'):,.0f} |"
            )
    return "\n".join(lines) + "\n"


def write_results(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{MARK_START}\n{section}{MARK_END}"
    if MARK_START in text:
        head, rest = text.split(MARK_START, 1)
        text = head + block + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument(
        "--rates", default="100,300,1000", help="comma-separated msg/s, lowest first"
    )
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    args.load = os.getloadavg()[0]
    rates = [int(r) for r in args.rates.split(",")]
    backends = (
        ("embedded (local://)", "broadcast", "local"),
        ("redis (Broadcast)", "broadcast", "redis"),
        ("redis-py direct", "direct", "redis"),
    )
    samples: dict[str, dict[int, list[dict[str, float]]]] = {
        name: {rate: [] for rate in rates} for name, _, _ in backends
    }
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        directory = Path(tmp)
        (directory / "fanoutapp.py").write_text(APP)
        redis_proc, redis_port = start_redis(directory)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for name, mode, kind in backends:
                servers[name] = serve(directory, mode, "local://" if kind == "local" else redis_url)
            # Interleaved rounds, the order rotating, so a burst of load elsewhere on the
            # machine does not land on one backend only.
            for round_ in range(args.rounds):
                shift = round_ % len(backends)
                for name, _, _ in backends[shift:] + backends[:shift]:
                    port = servers[name][1]
                    result = asyncio.run(run_row(port, args.subscribers, rates, args.duration))
                    print(round_ + 1, name, result, flush=True)
                    for rate, figures in result.items():
                        samples[name][rate].append(figures)
        finally:
            for proc, _ in servers.values():
                kill(proc)
            kill(redis_proc)
    rows = [(name, samples[name]) for name, _, _ in backends]
    section = render(rows, args)
    print(section)
    write_results(args.output, section)


if __name__ == "__main__":
    main()
