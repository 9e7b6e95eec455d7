"""Class-based endpoints: one method per HTTP verb, or WebSocket event callbacks.

Both are ASGI apps (`Route("/", MyEndpoint)` calls the class with `scope, receive, send` and
awaits the instance), so they compose with routing and middleware like any other app.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, ClassVar, Literal

from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.concurrency import run_in_threadpool
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.types import Message, Receive, Scope, Send

__all__ = ["HTTPEndpoint", "WebSocketEndpoint"]

# Only these verbs dispatch to methods: a request with method "DISPATCH" or "__INIT__" must never
# reach an attribute of the same name.
_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY")


class _Endpoint:
    """How both endpoint kinds are ASGI apps: the class is called with `scope, receive, send`
    and the instance awaited, which runs `dispatch`.

    A scope of the wrong type is a wiring mistake (e.g. an HTTPEndpoint in a WebSocketRoute), so
    it fails at once with a TypeError rather than misbehaving later.
    """

    _scope_type: ClassVar[str]
    _wrong_scope: ClassVar[str]  # the TypeError's text, before ", not '<type>' scopes."

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != self._scope_type:
            raise TypeError(f"{self._wrong_scope}, not {scope['type']!r} scopes.")
        self.scope = scope
        self.receive = receive
        self.send = send

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        raise NotImplementedError()


class HTTPEndpoint(_Endpoint):
    """Subclass and define `get`, `post`, ...: each receives the Request, returns a Response.

    HEAD falls back to `get`. Any other method is a 405 with an `Allow` header listing what the
    class implements (computed once per class). Sync methods run in the thread pool.
    """

    _scope_type = "http"
    _wrong_scope = "HTTPEndpoint serves HTTP requests"
    _allowed: ClassVar[tuple[str, ...]] = ()
    _allow_header: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        allowed = [m for m in _HTTP_METHODS if callable(getattr(cls, m.lower(), None))]
        if "GET" in allowed and "HEAD" not in allowed:
            allowed.insert(allowed.index("GET") + 1, "HEAD")
        cls._allowed = tuple(allowed)
        cls._allow_header = ", ".join(allowed)

    async def dispatch(self) -> None:
        from asgiforge.runtime.requests import Request

        # `send` too: `request.send_early_hints()` and push need the channel.
        request = Request(self.scope, receive=self.receive, send=self.send)
        method = request.method
        if method not in self._allowed:
            handler: Any = self.method_not_allowed
        elif method == "HEAD" and not callable(getattr(self, "head", None)):
            handler = self.get  # type: ignore[attr-defined]
        else:
            handler = getattr(self, method.lower())
        if is_async_callable(handler):
            response = await handler(request)
        else:
            response = await run_in_threadpool(handler, request)
        await response(self.scope, self.receive, self.send)

    async def method_not_allowed(self, request: Any) -> Any:
        headers = {"Allow": self._allow_header}
        if "app" in self.scope:
            raise HTTPException(status_code=405, headers=headers)
        from asgiforge.runtime.responses import PlainTextResponse

        return PlainTextResponse("Method Not Allowed", status_code=405, headers=headers)


class WebSocketEndpoint(_Endpoint):
    """Subclass and override `on_connect` / `on_receive` / `on_disconnect`.

    `encoding` decodes each message before `on_receive`: "text", "bytes", "json" or None (raw
    text or bytes). A message that does not fit the encoding (bytes for "text", invalid JSON...)
    closes the socket with 1003 (unsupported data) and then raises a RuntimeError, as Starlette
    does, so the session ends through the usual error path (`on_disconnect` sees 1011).
    """

    _scope_type = "websocket"
    _wrong_scope = "WebSocketEndpoint serves WebSocket sessions"
    encoding: Literal["text", "bytes", "json"] | None = None

    async def dispatch(self) -> None:
        from asgiforge.runtime.websockets import WebSocket

        websocket = WebSocket(self.scope, receive=self.receive, send=self.send)
        await self.on_connect(websocket)
        close_code = 1000
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.receive":
                    data = await self.decode(websocket, message)
                    await self.on_receive(websocket, data)
                elif message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or 1000)
                    break
        except Exception:
            close_code = 1011
            raise
        finally:
            await self.on_disconnect(websocket, close_code)

    async def decode(self, websocket: Any, message: Message) -> Any:
        """Decode one `websocket.receive` message according to `encoding`."""
        text = message.get("text")
        data = message.get("bytes")
        if self.encoding == "text":
            if text is None:
                await self._reject(websocket, "Expected text websocket messages, but got bytes")
            return text
        if self.encoding == "bytes":
            if data is None:
                await self._reject(websocket, "Expected bytes websocket messages, but got text")
            return data
        if self.encoding == "json":
            try:
                return json.loads(text if text is not None else (data or b"").decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                await self._reject(websocket, "Malformed JSON data received.")
        return text if text is not None else data

    async def _reject(self, websocket: Any, error: str) -> None:
        await websocket.close(code=1003)
        raise _UnsupportedData(error)

    async def on_connect(self, websocket: Any) -> None:
        """Accept the connection; override to check credentials or pick a subprotocol."""
        await websocket.accept()

    async def on_receive(self, websocket: Any, data: Any) -> None:
        """Handle one decoded message."""

    async def on_disconnect(self, websocket: Any, close_code: int) -> None:
        """Clean up after the session ends, however it ended."""


class _UnsupportedData(RuntimeError):
    """A message did not match `encoding`; the socket has already been closed with 1003.

    A RuntimeError, the exception Starlette raises here, so existing `except` clauses match.
    """
