"""Raw-ASGI helpers for the middleware tests: drive an app message by message.

Used where an HTTP client would hide what matters (chunk boundaries, hostile Host headers the
client library would normalise, exact message order).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import httpx2

from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send


def client(app: ASGIApp, base_url: str = "http://testserver") -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=base_url)


def http_scope(
    path: str = "/",
    *,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    scheme: str = "http",
    query_string: bytes = b"",
    kind: str = "http",
    server: tuple[str, int] | None = ("testserver", 80),
) -> Scope:
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query_string,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 5000),
        "server": server,
        "extensions": {},
    }


async def call(app: ASGIApp, scope: Scope, body_chunks: Iterable[bytes] = (b"",)) -> list[Message]:
    """Run `app` with `scope`, feeding `body_chunks`, and return every message it sent."""
    chunks = list(body_chunks)
    sent: list[Message] = []

    async def receive() -> Message:
        if chunks:
            body = chunks.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def header(message: Message, name: str) -> str | None:
    key = name.lower().encode()
    for k, v in message.get("headers", ()):
        if k.lower() == key:
            return v.decode("latin-1")  # type: ignore[no-any-return]
    return None


def header_list(message: Message, name: str) -> list[str]:
    key = name.lower().encode()
    return [v.decode("latin-1") for k, v in message.get("headers", ()) if k.lower() == key]


def text_app(
    body: bytes = b"hello",
    *,
    status: int = 200,
    headers: Sequence[tuple[bytes, bytes]] = (),
    content_type: bytes = b"text/plain",
) -> ASGIApp:
    """A one-shot ASGI app that answers every http request with `body`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def chunked_app(chunks: Sequence[bytes], content_type: bytes = b"text/plain") -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", content_type)],
            }
        )
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


class Recorder:
    """An inner app that records the scope it was called with (for pass-through tests)."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await text_app(b"ok")(scope, receive, send)


__all__: list[Any] = [
    "Recorder",
    "call",
    "chunked_app",
    "client",
    "header",
    "http_scope",
    "text_app",
]
