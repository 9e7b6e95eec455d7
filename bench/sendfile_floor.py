"""The floor for file downloads: a minimal asyncio HTTP/1.1 server answering with `os.sendfile`.

Usage: python bench/sendfile_floor.py --port PORT --file PATH

Every request on a keep-alive connection gets the same file, whatever its target: a fixed
response head, then the file copied by the kernel (`loop.sock_sendfile`, which asyncio's
selector loop implements with `os.sendfile`). No parsing beyond finding the end of each head, no
ASGI, no framework: what any Python server on this machine can at best do for this download, the
floor the "10 MiB download" row in `bench/run.py --only files` divides by.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket


async def serve_connection(loop: asyncio.AbstractEventLoop, conn: socket.socket, path: str) -> None:
    size = os.stat(path).st_size
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
        f"content-length: {size}\r\n\r\n"
    ).encode("ascii")
    pending = b""
    with conn, open(path, "rb") as file:
        while True:
            while b"\r\n\r\n" not in pending:
                data = await loop.sock_recv(conn, 65536)
                if not data:
                    return
                pending += data
            pending = pending.split(b"\r\n\r\n", 1)[1]
            try:
                await loop.sock_sendall(conn, head)
                await loop.sock_sendfile(conn, file, 0, size)
            except OSError:
                return


async def main(port: int, path: str) -> None:
    loop = asyncio.get_running_loop()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1024)
    server.setblocking(False)
    tasks: set[asyncio.Task[None]] = set()
    while True:
        conn, _ = await loop.sock_accept(server)
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = loop.create_task(serve_connection(loop, conn, path))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.file))
