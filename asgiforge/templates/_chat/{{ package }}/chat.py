"""A chat room: WebSocket clients post and receive messages, and a server-sent event stream
(`/events`) follows the same messages for read-only clients.

Messages go through `asgiforge.runtime.broadcast`, so one room spans every process serving the
app: one process (`memory://`), every worker of `asgiforge serve` on one machine (`local://`,
the default) or every replica on every machine (`redis://...`). Only `BROADCAST_URL` changes.
Each connection reads through a bounded queue: a reader far behind loses its oldest messages
instead of slowing the room down.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from asgiforge.runtime.broadcast import Broadcast, BroadcastError, BroadcastUnavailable
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import PlainTextResponse, Response, StreamingResponse
from asgiforge.runtime.routing import BaseRoute, Route, WebSocketRoute
from asgiforge.runtime.websockets import WebSocket, WebSocketDisconnect

CHANNEL = "chat"
HISTORY = 50
MAX_TEXT_LENGTH = 500
MAX_AUTHOR_LENGTH = 40
QUEUE_SIZE = 100
KEEPALIVE_SECONDS = 15.0

Event = dict[str, Any]


def chat_broadcast(url: str) -> Broadcast:
    """The broadcast the chat needs, keeping the last `HISTORY` messages for newcomers.

    Start it in the app's lifespan and yield it as `broadcast`: the routes read it from
    `request.state.broadcast`.
    """
    return Broadcast(url, queue_size=QUEUE_SIZE, history={CHANNEL: HISTORY})


def parse_message(raw: str) -> Event:
    """A chat message from a client's JSON text; ValueError with a reason when it is not one."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError('send JSON: {"author": "...", "text": "..."}') from None
    if not isinstance(data, dict):
        raise ValueError("the message must be a JSON object")
    text = data.get("text")
    author = data.get("author") or "anonymous"
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' must be a non-empty string")
    if not isinstance(author, str):
        raise ValueError("'author' must be a string")
    return {
        "type": "message",
        "author": author.strip()[:MAX_AUTHOR_LENGTH] or "anonymous",
        "text": text.strip()[:MAX_TEXT_LENGTH],
        "at": time.time(),
    }


def chat_routes() -> list[BaseRoute]:
    """The WebSocket endpoint (`/ws`) and the event stream (`/events`) of the chat room."""

    async def chat_socket(websocket: WebSocket) -> None:
        broadcast: Broadcast = websocket.state.broadcast
        await websocket.accept()
        sending = anyio.Lock()  # two tasks write to this socket: one frame at a time

        async def send(text: str) -> None:
            async with sending:
                await websocket.send_text(text)

        async with (
            broadcast.subscribe(CHANNEL, history=True) as messages,
            anyio.create_task_group() as tasks,
        ):

            async def forward() -> None:
                async for event in messages:
                    await send(str(event.message))

            tasks.start_soon(forward)
            try:
                while True:
                    raw = await websocket.receive_text()
                    try:
                        await broadcast.publish_json(CHANNEL, parse_message(raw))
                    except ValueError as exc:
                        await send(json.dumps({"type": "error", "detail": str(exc)}))
                    except BroadcastUnavailable:
                        detail = "the chat is unavailable right now; try again shortly"
                        await send(json.dumps({"type": "error", "detail": detail}))
            except WebSocketDisconnect:
                pass
            finally:
                tasks.cancel_scope.cancel()

    async def events(request: Request) -> Response:
        limit_param = request.query_params.get("limit", "")
        if limit_param and not (limit_param.isdigit() and int(limit_param) > 0):
            return PlainTextResponse("limit must be a positive integer", status_code=400)
        # Stop after `limit` events: handy for scripts and tests; browsers follow forever.
        limit = int(limit_param) if limit_param else None
        broadcast: Broadcast = request.state.broadcast

        async def stream() -> AsyncIterator[str]:
            sent = 0
            async with broadcast.subscribe(CHANNEL, history=True) as messages:
                while limit is None or sent < limit:
                    message: str | bytes | None = None
                    with anyio.move_on_after(KEEPALIVE_SECONDS):
                        try:
                            message = (await messages.receive()).message
                        except BroadcastError:
                            return  # the server is stopping
                    if message is None:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: message\ndata: {message!s}\n\n"
                    sent += 1

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [WebSocketRoute("/ws", chat_socket, name="chat_ws"), Route("/events", events)]
