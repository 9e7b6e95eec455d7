"""Cost of the HTTP protocol layer per request: uvicorn's classes vs asgiforge's hardened ones.

Usage (from the repository root):
    bench/.venv-anchors/bin/python bench/protocol_cost.py [--n 20000] [--rounds 7]
        [--loop uvloop|asyncio] [--headers 4] [--clock wall|cpu]

Each protocol object gets a fake transport and N keep-alive requests fed one at a time through
`data_received`, as a client waiting for each response would send them; a bare ASGI app answers
each. The figure is microseconds per request of parser + protocol + app work, best of the
rounds (rounds interleave the classes, so machine noise hits each alike). No sockets and no
kernel, so it moves far less than `bench/run.py --only serve` and shows where a change helps;
the figures that count are the end-to-end ones. An `asgiforge serve` worker hands uvicorn the app
itself (proxy headers are read by these protocols, when a head holds one; its draining wrapper is
only swapped in once it drains, `worker.retire`), so its rows are also what a worker costs;
uvicorn's rows leave out the proxy-headers middleware uvicorn adds by default
(`bench/proxy_headers_cost.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from uvicorn.protocols.http.h11_impl import H11Protocol  # noqa: E402
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: E402
from uvicorn.server import ServerState  # noqa: E402

from asgiforge.server.options import HeadLimits  # noqa: E402
from asgiforge.server.protocols import protocol_class  # noqa: E402

BODY = b"Hello, world!"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
}
END = {"type": "http.response.body", "body": BODY}


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    await send(START)
    await send(END)


class FakeTransport:
    """Just enough of `asyncio.Transport` for uvicorn's protocols; counts bytes written."""

    def __init__(self) -> None:
        self.closing = False
        self.written = 0
        self.protocol: Any = None

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        # The header-deadline check asks whether the connection still belongs to the protocol.
        return self.protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        extra = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return extra.get(name, default)

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass


def request(extra_headers: int) -> bytes:
    """A keep-alive GET as a load generator or browser would send it."""
    lines = ["GET /plaintext?page=2 HTTP/1.1", "Host: 127.0.0.1:8000"]
    common = [
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language: en-GB,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br, zstd",
        "Connection: keep-alive",
        "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark",
        "Upgrade-Insecure-Requests: 1",
        "Sec-Fetch-Dest: document",
        "Sec-Fetch-Mode: navigate",
        "Sec-Fetch-Site: none",
    ]
    lines += common[:extra_headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def targets() -> dict[str, tuple[type[Any], Any]]:
    limits = HeadLimits()
    ours_httptools = protocol_class("httptools", limits)
    ours_h11 = protocol_class("h11", limits)
    return {
        "uvicorn httptools": (HttpToolsProtocol, bare_app),
        "asgiforge httptools": (ours_httptools, bare_app),
        "uvicorn h11": (H11Protocol, bare_app),
        "asgiforge h11": (ours_h11, bare_app),
    }


async def drive(
    cls: type[Any], app: Any, data: bytes, n: int, clock: Any = time.perf_counter
) -> float:
    """Seconds for `n` requests on one connection (each answered before the next is sent)."""
    loop = asyncio.get_running_loop()
    config = uvicorn.Config(app, http=cls, log_config=None, access_log=False, lifespan="off")
    config.load()
    config.loaded_app = app  # no uvicorn wrapper: the same app object for every class
    protocol = cls(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    transport = FakeTransport()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    sleep = asyncio.sleep
    feed = protocol.data_received
    start = clock()
    for _ in range(n):
        feed(data)
        while protocol.cycle is None or not protocol.cycle.response_complete:
            await sleep(0)
        await sleep(0)  # let the request task finish, as the next read would
    elapsed = clock() - start
    if transport.closing:
        raise SystemExit(f"{cls.__name__} closed the connection: the figures would be wrong")
    protocol.connection_lost(None)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--headers", type=int, default=4, help="headers besides Host (0-10)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: this process's CPU time, which other work on a busy machine inflates far less",
    )
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    data = request(args.headers)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    best: dict[str, float] = {}
    chosen = targets()
    for _ in range(args.rounds):
        for name, (cls, app) in chosen.items():
            seconds = loop.run_until_complete(drive(cls, app, data, args.n, clock))
            best[name] = min(best.get(name, seconds), seconds)
    print(
        f"{args.n} keep-alive requests x {args.rounds} rounds, {args.loop}, {len(data)} B head, {args.clock} time"
    )
    print(f"{'protocol':<32} {'µs/request':>10}")
    for name, seconds in best.items():
        print(f"{name:<32} {seconds / args.n * 1e6:>10.2f}")


if __name__ == "__main__":
    main()
