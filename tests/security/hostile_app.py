"""The application the security suite serves: small endpoints that expose what reached them.

Configured from the environment (set by the fixture that starts `asgiforge serve`):
``HOSTILE_RECORD`` is a file that gets one JSON line per HTTP request that reached the app, so a
test can assert that a smuggled request never did; ``HOSTILE_STATIC`` is the static root.
"""

from __future__ import annotations

import json
import os
from typing import Any

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.body_limit import RequestBodyLimitMiddleware
from asgiforge.runtime.middleware.httpsredirect import HTTPSRedirectMiddleware
from asgiforge.runtime.middleware.wsorigin import WebSocketOriginMiddleware
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import JSONResponse, PlainTextResponse, Response
from asgiforge.runtime.routing import Mount, Route, Router, WebSocketRoute
from asgiforge.runtime.staticfiles import StaticFiles
from asgiforge.runtime.types import ASGIApp, Receive, Scope, Send
from asgiforge.runtime.websockets import WebSocket

RECORD = os.environ.get("HOSTILE_RECORD", os.devnull)
STATIC = os.environ.get("HOSTILE_STATIC", ".")
MAX_BODY_SIZE = 64 * 1024
GOOD_ORIGIN = "https://good.example"


class Recorder:
    """Outermost middleware: one JSON line per HTTP/WebSocket scope that reached the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            line = {
                "type": scope["type"],
                "method": scope.get("method", "GET"),
                "path": scope["path"],
                "headers": [
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]
                ],
            }
            with open(RECORD, "a", encoding="utf-8") as file:
                file.write(json.dumps(line) + "\n")
        await self.app(scope, receive, send)


async def index(request: Request) -> Response:
    return PlainTextResponse("ok")


async def url(request: Request) -> Response:
    """What the app would put in an absolute link: the request's URL and its parts."""
    u = request.url
    return JSONResponse(
        {
            "url": str(u),
            "host": u.hostname,
            "port": u.port,
            "path": u.path,
            "scope_path": request.scope["path"],
            "client": request.client.host if request.client else None,
        }
    )


async def body(request: Request) -> Response:
    data = await request.body()
    return PlainTextResponse(str(len(data)))


async def read_json(request: Request) -> Response:
    value: Any = await request.json()
    return PlainTextResponse(type(value).__name__)


async def read_form(request: Request) -> Response:
    async with request.form(max_fields=100, max_files=5, max_part_size=16 * 1024) as form:
        return PlainTextResponse(str(len(form)))


async def split(request: Request) -> Response:
    """Puts a query-string value into a response header as it came, CR/LF and all.

    It bypasses MutableHeaders' own validation on purpose: this is what a careless app or a
    third-party middleware could do, and the server must still not split the response.
    """
    response = PlainTextResponse("split")
    response.raw_headers.append((b"x-echo", request.query_params.get("v", "").encode("latin-1")))
    return response


async def slash_target(request: Request) -> Response:
    return PlainTextResponse("slashdir")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await websocket.send_text(message["text"])
        else:
            await websocket.send_bytes(message.get("bytes") or b"")


secure = HTTPSRedirectMiddleware(Router([Route("/{rest:path}", index)]))
restricted = WebSocketOriginMiddleware(
    Router([WebSocketRoute("/", echo)]), allowed_origins=[GOOD_ORIGIN]
)

app = App(
    routes=[
        Route("/", index),
        Route("/url", url),
        Route("/body", body, methods=["POST"]),
        Route("/json", read_json, methods=["POST"]),
        Route("/form", read_form, methods=["POST"]),
        Route("/split", split),
        WebSocketRoute("/ws", echo),
        Mount("/wsr", app=restricted),
        Mount("/secure", app=secure),
        Mount("/static", app=StaticFiles(directory=STATIC, html=True)),
        # Matches "//evil.example/slashdir/": the slash redirect for "//evil.example/slashdir"
        # is where a naive server would answer with the protocol-relative "//evil.example/...".
        Route("/{prefix:path}/slashdir/", slash_target),
    ],
    middleware=[
        Middleware(Recorder),
        Middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY_SIZE),
    ],
)
