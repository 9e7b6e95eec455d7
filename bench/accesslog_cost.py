"""Cost of the access log per request: off, uvicorn's text line, asgiforge's JSON line.

Usage (from the repository root):
    PYTHONPATH=. bench/.venv-anchors/bin/python bench/accesslog_cost.py [--n 20000] [--rounds 7]
        [--loop uvloop|asyncio] [--http httptools|h11]

Same method as `bench/protocol_cost.py` (whose fake transport and request it reuses): N
keep-alive requests fed one at a time into asgiforge's protocol class, a bare app answering,
best of the rounds, the rows interleaved so machine noise hits each alike. Both formats write
to /dev/null through a real `logging` handler and formatter (the server's plain format for the
text line, the bare message for JSON), so the figure includes formatting but not the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from uvicorn.server import ServerState  # noqa: E402

from asgiforge.server import _logging, accesslog  # noqa: E402
from asgiforge.server.options import HeadLimits, HTTPOptions  # noqa: E402
from asgiforge.server.protocols import protocol_class  # noqa: E402
from bench.protocol_cost import FakeTransport, bare_app, request  # noqa: E402

DEVNULL = open(os.devnull, "w")


def sink(name: str, fmt: str) -> logging.Handler:
    handler = logging.StreamHandler(DEVNULL)
    handler.setFormatter(logging.Formatter(fmt))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return handler


async def drive(cls: type[Any], app: Any, access_log: bool, data: bytes, n: int) -> float:
    loop = asyncio.get_running_loop()
    config = uvicorn.Config(app, http=cls, log_config=None, access_log=access_log, lifespan="off")
    if access_log:  # `Config` just reset uvicorn's access logger: the same sink as the JSON rows
        sink("uvicorn.access", _logging.PLAIN_FORMAT)
    config.load()
    config.loaded_app = app
    protocol = cls(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    transport = FakeTransport()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    sleep = asyncio.sleep
    feed = protocol.data_received
    start = time.perf_counter()
    for _ in range(n):
        feed(data)
        while protocol.cycle is None or not protocol.cycle.response_complete:
            await sleep(0)
        await sleep(0)
    elapsed = time.perf_counter() - start
    protocol.connection_lost(None)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--http", choices=("httptools", "h11"), default="httptools")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    cls = protocol_class(args.http, HeadLimits())
    json_app = accesslog.wrap(bare_app, HTTPOptions(access_log_format="json"))
    sink(accesslog.LOGGER, "%(message)s")  # after `wrap`, which points it at stdout
    rows = {
        "access log off": (bare_app, False),
        "text (uvicorn's line)": (bare_app, True),
        "json (asgiforge wrapper)": (json_app, False),
    }
    data = request(4)
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (app, text) in rows.items():
            seconds = loop.run_until_complete(drive(cls, app, text, data, args.n))
            best[name] = min(best.get(name, seconds), seconds)
    base = best["access log off"]
    print(f"{args.n} keep-alive requests x {args.rounds} rounds, {args.loop}, {args.http}")
    print(f"{'access log':<28} {'µs/request':>10} {'vs off':>8}")
    for name, seconds in best.items():
        print(f"{name:<28} {seconds / args.n * 1e6:>10.2f} {seconds / base:>7.2f}x")


if __name__ == "__main__":
    main()
