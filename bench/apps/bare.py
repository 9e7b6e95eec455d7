"""The ceiling: hand-written ASGI callables with the same behaviour as the framework apps."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

STATIC_FILE = pathlib.Path(__file__).parent / "static" / "file.txt"
_PLAIN = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"13")]
_USER = re.compile(r"^/users/(?P<id>[0-9]+)$")
_CHUNK = b"x" * 4096


def _json(obj: Any) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ], body


async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send(
                {
                    "type": "websocket.send",
                    "text": message.get("text"),
                    "bytes": message.get("bytes"),
                }
            )
    path = scope["path"]
    if path == "/plaintext":
        await _send(send, 200, _PLAIN, b"Hello, world!")
    elif path == "/json":
        await _send(send, 200, *_json({"message": "Hello, world!"}))
    elif path == "/echo" and scope["method"] == "POST":
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await _send(send, 200, *_json(json.loads(body)))
    elif path == "/stream":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")],
            }
        )
        for _ in range(16):
            await send({"type": "http.response.body", "body": _CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/static/file.txt":
        data = STATIC_FILE.read_bytes()
        await _send(
            send,
            200,
            [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(data)).encode()),
            ],
            data,
        )
    elif (match := _USER.match(path)) is not None:
        await _send(send, 200, *_json({"id": int(match["id"])}))
    else:
        await _send(send, 404, [(b"content-length", b"9")], b"Not Found")


class _Pass:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


app_mw3 = _Pass(_Pass(_Pass(app)))
app_basehttp = _Pass(app)
