"""In-process cost per request: the apps called directly, no server, no sockets.

Usage (from the repository root):
    bench/.venv-anchors/bin/python bench/inproc.py [--n 20000] [--targets bare,starlette,asgiforge]
        [--only json,echo] [--profile asgiforge:json]

Each scenario's scope, `receive` and `send` are what uvicorn (httptools) hands an app, minus the
network. The figure is microseconds per request of *framework* work only, so it moves far less
with machine noise than the wrk figures and shows where a change helps; `--profile
target:scenario` prints a cProfile of that pair. It is a development aid: the figures that count
are the end-to-end ones from `bench/run.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import json
import pstats
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODULES = {
    "bare": "bench.apps.bare",
    "starlette": "bench.apps.starlette_app",
    "asgiforge": "bench.apps.asgiforge_app",
    "fastapi": "bench.apps.fastapi_app",
}
ECHO_BODY = json.dumps([{"id": i, "name": f"item-{i:04d}"} for i in range(1, 37)]).encode()

# (name, app attribute, method, path, body)
SCENARIOS = [
    ("plaintext", "app", "GET", "/plaintext", b""),
    ("json", "app", "GET", "/json", b""),
    ("route", "app", "GET", "/users/42", b""),
    ("mw3", "app_mw3", "GET", "/json", b""),
    ("basehttp", "app_basehttp", "GET", "/json", b""),
    ("echo", "app", "POST", "/echo", ECHO_BODY),
    ("stream", "app", "GET", "/stream", b""),
    ("static", "app", "GET", "/static/file.txt", b""),
]


def make_scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk")]
    if body:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},  # what uvicorn 0.54 reports
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


class Sink:
    """Collects the status and body of one response (checked once, then discarded)."""

    def __init__(self) -> None:
        self.status = 0
        self.body = b""

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


def receiver(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    return receive


async def one(app: Any, method: str, path: str, body: bytes) -> Sink:
    sink = Sink()
    await app(make_scope(method, path, body), receiver(body), sink)
    return sink


async def lifespan(app: Any) -> None:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await queue.put({"type": "lifespan.startup"})
    done = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            done.set()

    task = asyncio.ensure_future(app({"type": "lifespan", "state": {}}, queue.get, send))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()


async def measure(app: Any, method: str, path: str, body: bytes, n: int) -> float:
    # Build scopes outside the timed loop: a server builds them before calling the app.
    scopes = [make_scope(method, path, body) for _ in range(n)]
    sink = Sink()
    start = time.perf_counter()
    for scope in scopes:
        sink.body = b""
        await app(scope, receiver(body), sink)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--targets", default="bare,starlette,asgiforge")
    parser.add_argument("--only", default=",".join(s[0] for s in SCENARIOS))
    parser.add_argument("--profile", default="", help="target:scenario to profile")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    targets = args.targets.split(",")
    apps = {t: importlib.import_module(MODULES[t]) for t in targets}
    wanted = set(args.only.split(","))
    loop = asyncio.new_event_loop()
    for mod in apps.values():
        for attr in ("app", "app_mw3", "app_basehttp"):
            loop.run_until_complete(lifespan(getattr(mod, attr)))
    if args.profile:
        target, name = args.profile.split(":")
        _, attr, method, path, body = next(s for s in SCENARIOS if s[0] == name)
        app = getattr(apps[target], attr)
        loop.run_until_complete(measure(app, method, path, body, 200))
        profiler = cProfile.Profile()
        profiler.enable()
        loop.run_until_complete(measure(app, method, path, body, args.n))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return
    print(
        f"{'scenario':<10}"
        + "".join(f"{t:>12}" for t in targets)
        + "   (µs/request, best of --repeat)"
    )
    for name, attr, method, path, body in SCENARIOS:
        if name not in wanted:
            continue
        reference = None
        row = []
        for target in targets:
            app = getattr(apps[target], attr)
            sink = loop.run_until_complete(one(app, method, path, body))
            if sink.status != 200:
                sys.exit(f"{target} {name}: status {sink.status}")
            if reference is None:
                reference = sink.body
            elif sink.body != reference:
                sys.exit(f"{target} {name}: body differs from {targets[0]}'s")
            loop.run_until_complete(measure(app, method, path, body, 500))
            runs = [
                loop.run_until_complete(measure(app, method, path, body, args.n))
                for _ in range(args.repeat)
            ]
            row.append(min(runs))
        print(f"{name:<10}" + "".join(f"{v:>12.1f}" for v in row))


if __name__ == "__main__":
    main()
