"""Per-request cost of a 64 KiB stream (16 x 4 KiB) alone, behind GZipMiddleware, behind a
BaseHTTPMiddleware, in process: Python function calls per request (cProfile; deterministic, so
comparable across runs on a loaded machine) and µs per request (best of `--repeat`; noisy).

Usage (from the repository root, PYTHONPATH pointing at the tree to measure):
    bench/.venv-anchors/bin/python bench/stream_chain.py [--n 2000] [--repeat 5]

The scope says ASGI spec 2.3, as uvicorn does; the client accepts gzip.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from collections.abc import AsyncIterator
from typing import Any

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.base import BaseHTTPMiddleware
from asgiforge.runtime.middleware.gzip import GZipMiddleware
from asgiforge.runtime.responses import StreamingResponse
from asgiforge.runtime.routing import Route

CHUNK = b"x" * 4096


async def stream(request: Any) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(16):
            yield CHUNK

    return StreamingResponse(chunks(), media_type="application/octet-stream")


class Timing(BaseHTTPMiddleware):
    async def dispatch(self, request: Any, call_next: Any) -> Any:
        return await call_next(request)


APPS = {
    "stream": App(routes=[Route("/stream", stream)]),
    "gzip": App(routes=[Route("/stream", stream)], middleware=[Middleware(GZipMiddleware)]),
    "basehttp": App(routes=[Route("/stream", stream)], middleware=[Middleware(Timing)]),
}


def scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream",
        "raw_path": b"/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"accept-encoding", b"gzip")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def one(app: Any) -> int:
    size = 0

    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # as a server: nothing more until the client leaves
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal size
        if message["type"] == "http.response.body":
            size += len(message.get("body", b""))

    await app(scope(), receive, send)
    return size


async def many(app: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await one(app)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    print(f"{'chain':<10}{'calls/request':>15}{'µs/request':>12}")
    for name, app in APPS.items():
        loop.run_until_complete(many(app, 200))
        profiler = cProfile.Profile()
        profiler.enable()
        loop.run_until_complete(many(app, 100))
        profiler.disable()
        calls = pstats.Stats(profiler).total_calls / 100  # type: ignore[attr-defined]
        best = min(loop.run_until_complete(many(app, args.n)) for _ in range(args.repeat))
        print(f"{name:<10}{calls:>15.0f}{best:>12.1f}")


if __name__ == "__main__":
    main()
