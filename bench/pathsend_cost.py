"""What the pathsend extension costs a response that does not use it, in process.

Usage (from the repository root):
    bench/.venv-anchors/bin/python bench/pathsend_cost.py [--n 20000] [--rounds 15]

Each round creates N of uvicorn's httptools request-response cycles and sends a response start
and body through each (a fake transport), once with uvicorn's own cycle class and once with the
subclass `asgiforge.server.pathsend.pathsend_cycle` makes (what every request of `asgiforge
serve` / `dev` gets), interleaved; best round of each, in CPU time. The scope's one-key
``extensions`` dict the protocols add is not included (one small dict per request).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from asgiforge.server.pathsend import pathsend_cycle
from bench.protocol_cost import END, START, FakeTransport


class _Event:
    def set(self) -> None:
        pass


def run(cls: type[Any], n: int) -> float:
    transport = FakeTransport()
    flow = FlowControl(transport)  # type: ignore[arg-type]
    log = logging.getLogger("bench.pathsend_cost")
    event = _Event()
    start = time.process_time()
    for _ in range(n):
        cycle = cls(
            scope={"type": "http", "method": "GET", "headers": []},
            transport=transport,
            flow=flow,
            logger=log,
            access_logger=log,
            access_log=False,
            default_headers=[],
            message_event=event,
            expect_100_continue=False,
            keep_alive=True,
            on_response=_nothing,
        )
        for message in (START, END):
            coroutine = cycle.send(message)
            try:
                coroutine.send(None)
            except StopIteration:
                pass
    return time.process_time() - start


def _nothing() -> None:
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    classes: dict[str, type[Any]] = {
        "uvicorn's cycle": RequestResponseCycle,
        "pathsend cycle": pathsend_cycle(RequestResponseCycle),
    }
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, cls in classes.items():
            seconds = run(cls, args.n)
            best[name] = min(best.get(name, seconds), seconds)
    for name, seconds in best.items():
        print(f"{name:<18} {seconds / args.n * 1e6:6.2f} µs per response")


if __name__ == "__main__":
    main()
