"""A chat room inside one process: WebSocket clients post and receive messages, and a
server-sent event stream (`/events`) follows the same messages for read-only clients.

The `Hub` fans each message out to per-connection in-memory queues; a slow reader drops messages
instead of slowing everyone down. With several workers or replicas, replace the hub with a broker.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import PlainTextResponse, Response, StreamingResponse
from asgiforge.runtime.routing import BaseRoute, Route, WebSocketRoute
from asgiforge.runtime.websockets import WebSocket, WebSocketDisconnect

MAX_TEXT_LENGTH = 500
MAX_AUTHOR_LENGTH = 40
QUEUE_SIZE = 100
KEEPALIVE_SECONDS = 15.0

Event = dict[str, Any]


class Hub:
    """Fans messages out to subscribers and keeps the last few for newcomers."""

    def __init__(self, history: int = 50) -> None:
        self.history: deque[Event] = deque(maxlen=history)
        self._subscribers: set[MemoryObjectSendStream[Event]] = set()

    @property
    def online(self) -> int:
        return len(self._subscribers)

    def publish(self, event: Event) -> None:
        self.history.append(event)
        for outbox in list(self._subscribers):
            try:
                outbox.send_nowait(event)
            except anyio.WouldBlock:
                pass  # a reader this far behind misses messages rather than stalling the room
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.discard(outbox)

    @asynccontextmanager
    async def subscribe(
        self,
    ) -> AsyncIterator[tuple[MemoryObjectSendStream[Event], MemoryObjectReceiveStream[Event]]]:
        """A private queue receiving every message published while the block runs."""
        outbox, inbox = anyio.create_memory_object_stream[Event](QUEUE_SIZE)
        self._subscribers.add(outbox)
        try:
            yield outbox, inbox
        finally:
            self._subscribers.discard(outbox)
            outbox.close()
            inbox.close()


def parse_message(raw: str) -> Event:
    """A chat message from a client's JSON text; ValueError with a reason when it is not one."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError("send JSON: {\"author\": \"...\", \"text\": \"...\"}") from None
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


def chat_routes(hub: Hub) -> list[BaseRoute]:
    """The WebSocket endpoint (`/ws`) and the event stream (`/events`) over one hub."""

    async def chat_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        async with hub.subscribe() as (outbox, inbox), anyio.create_task_group() as tasks:

            async def forward() -> None:
                async for event in inbox:
                    await websocket.send_json(event)

            for event in list(hub.history):
                await websocket.send_json(event)
            tasks.start_soon(forward)
            try:
                while True:
                    raw = await websocket.receive_text()
                    try:
                        hub.publish(parse_message(raw))
                    except ValueError as exc:
                        outbox.send_nowait({"type": "error", "detail": str(exc)})
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

        async def stream() -> AsyncIterator[str]:
            sent = 0
            async with hub.subscribe() as (_, inbox):
                backlog = list(hub.history)
                while limit is None or sent < limit:
                    if backlog:
                        event: Event | None = backlog.pop(0)
                    else:
                        event = None
                        with anyio.move_on_after(KEEPALIVE_SECONDS):
                            event = await inbox.receive()
                    if event is None:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: message\ndata: {json.dumps(event)}\n\n"
                    sent += 1

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [WebSocketRoute("/ws", chat_socket, name="chat_ws"), Route("/events", events)]
