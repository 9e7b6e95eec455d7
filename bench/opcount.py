"""Deterministic per-request cost: Python frames entered and bytecodes executed per request.

Usage (from the repository root):
    bench/.venv-anchors/bin/python bench/opcount.py [--targets bare,asgiforge] [--only plaintext,json]

Why: on a shared, loaded machine timings move by ±30 % from one run to the next, while the
number of Python frames and bytecode instructions one request runs through is exactly the same
on every run. It is a proxy (a dict lookup and a frame cost differently, C code is not counted),
good for telling whether a change removed work from the hot path; `bench/inproc.py` gives the
time, `bench/run` the end-to-end figure. WebSocket echo is counted per message, with the same
fake server channel for every target.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inproc import MODULES, SCENARIOS, lifespan, make_scope, receiver  # noqa: E402


class Counter:
    """A `sys.settrace` tracer counting frames ('call' events) and opcodes."""

    def __init__(self) -> None:
        self.calls = 0
        self.opcodes = 0

    def trace(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "call":
            self.calls += 1
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        elif event == "opcode":
            self.opcodes += 1
        return self.trace


async def _sink(message: dict[str, Any]) -> None:
    return None


def count_http(app: Any, method: str, path: str, body: bytes, n: int) -> tuple[float, float]:
    loop = asyncio.new_event_loop()
    scopes = [make_scope(method, path, body) for _ in range(n)]
    receives = [receiver(body) for _ in range(n)]

    async def run() -> None:
        for scope, receive in zip(scopes, receives, strict=True):
            await app(scope, receive, _sink)

    counter = Counter()
    loop.run_until_complete(_warm(app, method, path, body))
    coro = run()
    sys.settrace(counter.trace)
    try:
        loop.run_until_complete(coro)
    finally:
        sys.settrace(None)
        loop.close()
    return counter.calls / n, counter.opcodes / n


async def _warm(app: Any, method: str, path: str, body: bytes) -> None:
    for _ in range(20):
        await app(make_scope(method, path, body), receiver(body), _sink)


def count_ws(app: Any, n: int) -> tuple[float, float]:
    """Frames and opcodes per echoed message on one connection (n messages)."""
    loop = asyncio.new_event_loop()
    counter = Counter()
    marks: list[tuple[int, int]] = []

    async def run(messages: int, trace: bool) -> None:
        incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}]
        incoming += [{"type": "websocket.receive", "text": "hello"} for _ in range(messages)]
        incoming.append({"type": "websocket.disconnect", "code": 1000})
        incoming.reverse()

        async def receive() -> dict[str, Any]:
            message = incoming.pop()
            if message["type"] == "websocket.receive" and trace and not marks:
                marks.append((counter.calls, counter.opcodes))
            return message

        async def send(message: dict[str, Any]) -> None:
            return None

        scope = make_scope("GET", "/ws", b"")
        scope["type"] = "websocket"
        scope["scheme"] = "ws"
        scope["subprotocols"] = []
        await app(scope, receive, send)
        if trace:
            marks.append((counter.calls, counter.opcodes))

    loop.run_until_complete(run(20, False))
    sys.settrace(counter.trace)
    try:
        loop.run_until_complete(run(n, True))
    finally:
        sys.settrace(None)
        loop.close()
    (c0, o0), (c1, o1) = marks
    return (c1 - c0) / n, (o1 - o0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--targets", default="bare,starlette,asgiforge")
    parser.add_argument("--only", default="plaintext,json,route,echo,ws")
    args = parser.parse_args()
    targets = args.targets.split(",")
    wanted = args.only.split(",")
    apps = {t: importlib.import_module(MODULES[t]) for t in targets}
    loop = asyncio.new_event_loop()
    for mod in apps.values():
        loop.run_until_complete(lifespan(mod.app))
    loop.close()
    print(f"{'scenario':<10}" + "".join(f"{t + ' frames':>20}{t + ' ops':>18}" for t in targets))
    for name in wanted:
        row = []
        for target in targets:
            app = apps[target].app
            if name == "ws":
                row.append(count_ws(app, args.n))
            else:
                _, attr, method, path, body = next(s for s in SCENARIOS if s[0] == name)
                row.append(count_http(getattr(apps[target], attr), method, path, body, args.n))
        print(f"{name:<10}" + "".join(f"{c:>20.1f}{o:>18.1f}" for c, o in row))


if __name__ == "__main__":
    main()
