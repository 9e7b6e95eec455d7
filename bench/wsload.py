"""A WebSocket load client cheap enough that the server, not the client, is the bottleneck.

Usage:
    python bench/wsload.py echo --port P [--connections 16] [--duration 5] [--inflight 1] [--server-pid PID]
    python bench/wsload.py idle --port P [--connections 2000]

Why not the `websockets` library: its client spends more CPU per message than uvicorn spends
serving it, so bare ASGI, Starlette and asgiforge all measured the client. This one is a raw
asyncio protocol (uvloop when installed): it writes the upgrade request itself with a fixed key,
sends pre-built masked text frames, and reads the echoes by parsing only each frame's header and
length (server frames are unmasked; a read may hold part of a frame or several frames).

`echo`: every connection runs a closed send → receive loop (`--inflight` messages outstanding,
1 by default, so it stays a round-trip measurement) for `--duration` seconds, then prints one JSON
line: echoes received in the window, msg/s, and the CPU seconds of this client and, with
`--server-pid`, of the server (utime + stime from /proc, all threads) over the same window, so a
reader can check that the server core was the busy one.

`idle`: opens one connection, round-trips one message and closes it (so one-time costs such as
lazy imports are paid), prints `warm`, waits for a line on stdin, opens `--connections` connections
(each upgrade answered `101`), prints `ready`, then holds them idle (answering pings) until stdin
closes or gets another line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample nonce: the server only has to hash it
MASK = b"\x37\xfa\x21\x3d"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A final client frame (clients must mask; a fixed mask costs the server the same work)."""
    if len(payload) > 125:
        raise ValueError("wsload only builds frames of up to 125 bytes")
    body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + MASK + body


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of `pid` (fields 14 and 15 of /proc/PID/stat)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def self_sys_seconds() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


class Client(asyncio.Protocol):
    """One connection: handshake, then echo frames counted from their headers only."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.buf = b""
        self.received = 0  # echoes counted while the run was measuring
        self.outstanding = 0
        self.closing = False  # set once we sent a close frame: the server's reply is expected
        self.open = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        transport.write(self.run.request)

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.buf += data
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                if len(self.buf) > 65536:
                    self.fail("no end of the upgrade response")
                return
            if not head.startswith(b"HTTP/1.1 101"):
                status = head.split(b"\r\n", 1)[0]
                self.fail(f"upgrade refused: {status!r}")
                return
            self.upgraded = True
            self.buf = b""
            if not self.open.done():
                self.open.set_result(None)
            if not rest:
                return
            data = rest
        # The usual read is exactly one whole echo: nothing to parse.
        echoes = 1 if data == self.run.echo and not self.buf else self.parse(data)
        if echoes:
            self.outstanding -= echoes
            run = self.run
            if run.measuring:
                self.received += echoes
                self.outstanding += echoes
                self.transport.write(run.frame * echoes if echoes > 1 else run.frame)  # type: ignore[union-attr]
            elif self.outstanding <= 0 and run.started:
                self.close()

    def parse(self, data: bytes) -> int:
        """Complete data messages in `self.buf + data`; a partial frame stays buffered."""
        buf = self.buf + data if self.buf else data
        end = len(buf)
        i = 0
        echoes = 0
        while end - i >= 2:
            b1 = buf[i + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if end - i < 4:
                    break
                length = int.from_bytes(buf[i + 2 : i + 4], "big")
                head = 4
            elif length == 127:
                if end - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10], "big")
                head = 10
            if b1 & 0x80:
                head += 4  # a masked server frame is a protocol error, but skip it correctly
            stop = i + head + length
            if stop > end:
                break
            b0 = buf[i]
            opcode = b0 & 0x0F
            if opcode in (0x1, 0x2, 0x0):
                if b0 & 0x80:  # only the final fragment completes a message
                    echoes += 1
            elif opcode == 0x9:  # ping: answer with a pong carrying the same payload
                self.send_control(0xA, buf[i + head : stop])
            elif opcode == 0x8:
                if not self.closing:
                    self.run.server_closed += 1
                if self.transport is not None:
                    self.transport.close()
                self.buf = b""
                return 0
            i = stop
        self.buf = buf[i:] if i < end else b""
        return echoes

    def send_control(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and len(payload) <= 125:
            self.transport.write(masked_frame(opcode, payload))

    def start(self, inflight: int) -> None:
        self.outstanding = inflight
        self.transport.write(self.run.frame * inflight)  # type: ignore[union-attr]

    def close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(masked_frame(0x8, (1000).to_bytes(2, "big")))
            self.transport.close()

    def fail(self, why: str) -> None:
        if not self.open.done():
            self.open.set_exception(RuntimeError(why))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(RuntimeError(f"connection lost before the upgrade: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)


class Run:
    def __init__(self, port: int, path: str, message: bytes, deflate: bool = True) -> None:
        # Offer permessage-deflate as browsers and the `websockets` client do: a server that
        # accepts it may keep compression state per connection, part of what an idle one costs.
        offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n{offer}"
            f"Sec-WebSocket-Key: {KEY.decode()}\r\n\r\n"
        ).encode()
        self.frame = masked_frame(0x1, message)
        self.echo = bytes([0x81, len(message)]) + message  # the server's unmasked reply
        self.port = port
        self.measuring = False
        self.started = False
        self.server_closed = 0

    async def connect(self, count: int, batch: int = 100) -> list[Client]:
        loop = asyncio.get_running_loop()
        clients: list[Client] = []
        for first in range(0, count, batch):
            made = [
                loop.create_connection(lambda: Client(self), "127.0.0.1", self.port)
                for _ in range(min(batch, count - first))
            ]
            for _, client in await asyncio.gather(*made):
                clients.append(client)
            await asyncio.wait_for(asyncio.gather(*(c.open for c in clients[first:])), 10)
        return clients


async def echo(args: argparse.Namespace) -> dict[str, float]:
    run = Run(args.port, args.path, args.message.encode(), args.deflate)
    clients = await run.connect(args.connections)
    loop = asyncio.get_running_loop()
    server = args.server_pid
    server_before = proc_cpu_seconds(server) if server else 0.0
    client_before, sys_before = self_cpu_seconds(), self_sys_seconds()
    start = time.perf_counter()
    run.measuring = run.started = True
    for client in clients:
        client.start(args.inflight)
    done = loop.create_future()
    loop.call_later(args.duration, done.set_result, None)
    await done
    run.measuring = False
    wall = time.perf_counter() - start
    client_cpu = self_cpu_seconds() - client_before
    client_sys = self_sys_seconds() - sys_before
    server_cpu = proc_cpu_seconds(server) - server_before if server else float("nan")
    received = sum(c.received for c in clients)
    # Let the last round trips finish (bounded), then close every connection cleanly.
    deadline = time.monotonic() + 5
    while any(c.outstanding > 0 for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    for client in clients:
        client.close()
    await asyncio.wait([asyncio.ensure_future(c.closed) for c in clients], timeout=5)
    if run.server_closed:
        raise SystemExit(f"the server closed {run.server_closed} connections during the run")
    return {
        "connections": args.connections,
        "inflight": args.inflight,
        "messages": received,
        "wall_s": wall,
        "msg_per_s": received / wall,
        "client_cpu_s": client_cpu,
        "client_sys_share": client_sys / client_cpu if client_cpu else float("nan"),
        "server_cpu_s": server_cpu,
        "client_us_per_msg": client_cpu / received * 1e6 if received else float("nan"),
        "server_us_per_msg": server_cpu / received * 1e6 if received else float("nan"),
        "client_core": client_cpu / wall,
        "server_core": server_cpu / wall,
    }


async def idle(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    run = Run(args.port, args.path, args.message.encode(), args.deflate)
    (warm,) = await run.connect(1)
    run.measuring = run.started = True
    warm.start(1)
    deadline = time.monotonic() + 10
    while warm.received < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if warm.received < 1:
        raise SystemExit("warm-up message was not echoed")
    run.measuring = False
    warm.close()
    await asyncio.wait_for(warm.closed, 5)
    print("warm", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    clients = await run.connect(args.connections)
    live = sum(1 for c in clients if c.transport is not None and not c.transport.is_closing())
    if live != args.connections:
        raise SystemExit(f"only {live} of {args.connections} connections are open")
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    if run.server_closed:
        raise SystemExit(f"the server closed {run.server_closed} idle connections")
    for client in clients:
        if client.transport is not None:
            client.transport.abort()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["echo", "idle"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/ws")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument(
        "--inflight", type=int, default=1, help="messages outstanding per connection"
    )
    parser.add_argument("--message", default="hello")
    parser.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="do not offer permessage-deflate (offered by default, as browsers do)",
    )
    parser.add_argument("--server-pid", type=int, default=0, help="report this process's CPU too")
    args = parser.parse_args()
    if args.inflight < 1 or args.duration <= 0 or args.connections < 1:
        parser.error("--inflight and --connections must be >= 1 and --duration > 0")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    if args.mode == "echo":
        print(json.dumps(runner(echo(args))), flush=True)
    else:
        runner(idle(args))


if __name__ == "__main__":
    main()
