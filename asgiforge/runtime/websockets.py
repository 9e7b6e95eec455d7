"""WebSocket connections: a state machine over the ASGI websocket messages.

`WebSocket` tracks both halves of the conversation (`client_state`, `application_state`) so a
misuse - sending before `accept()`, reading after a disconnect, accepting twice - fails at once
with a `RuntimeError` that says what to do, instead of a confusing server error later.
A client that goes away surfaces as `WebSocketDisconnect`, both from `receive*()` (the server's
`websocket.disconnect` message) and from `send*()` (the server's `OSError` for a dead peer).
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

from asgiforge.runtime.requests import HTTPConnection, StateT
from asgiforge.runtime.types import Message, Receive, Scope, Send

__all__ = [
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketState",
]


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


class WebSocketDisconnect(Exception):
    """The connection ended: `code` is the close code (1000 normal, 1006 abnormal, ...)."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class WebSocketDisconnected(RuntimeError):
    """The app used a websocket that is already over: receive after the client's disconnect,
    send after the close. A `RuntimeError` (as before Starlette named it), so old handlers match.
    """


_ACCEPT_STATE_ERROR = (
    'Expected ASGI message "websocket.accept", "websocket.close" or '
    '"websocket.http.response.start", but got {!r}.'
)
_NOT_CONNECTED = 'WebSocket is not connected. Need to call "accept" first.'
_JSON_MODE_ERROR = 'The "mode" argument should be "text" or "binary", not {!r}.'


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _extract(message: Message, key: str) -> Any:
    """The "text" or "bytes" payload of a received message, or a RuntimeError naming the kind."""
    payload = message.get(key)
    if payload is None:
        if key == "text":
            raise RuntimeError("Expected a text websocket message, the client sent bytes.")
        raise RuntimeError("Expected a binary websocket message, the client sent text.")
    if type(payload) is (str if key == "text" else bytes):
        return payload
    return str(payload) if key == "text" else bytes(payload)


class WebSocket(HTTPConnection[StateT]):
    """One websocket connection, handed to websocket endpoints."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise ValueError(f"WebSocket needs a 'websocket' scope, got {scope['type']!r}.")
        super().__init__(scope)
        self._receive = receive
        self._send = send
        self.client_state = WebSocketState.CONNECTING
        self.application_state = WebSocketState.CONNECTING

    def _connected_message(self, message: Message) -> Message:
        """Check a message received while connected; a disconnect updates the state."""
        kind = message["type"]
        if kind == "websocket.disconnect":
            self.client_state = WebSocketState.DISCONNECTED
        elif kind != "websocket.receive":
            raise RuntimeError(
                f'Expected ASGI message "websocket.receive" or "websocket.disconnect", '
                f"but got {kind!r}."
            )
        return message

    async def receive(self) -> Message:
        """The next ASGI message from the client, checked against the connection state."""
        state = self.client_state
        if state is WebSocketState.CONNECTED:
            return self._connected_message(await self._receive())
        if state is WebSocketState.CONNECTING:
            message = await self._receive()
            kind = message["type"]
            if kind != "websocket.connect":
                raise RuntimeError(f'Expected ASGI message "websocket.connect", but got {kind!r}.')
            self.client_state = WebSocketState.CONNECTED
            return message
        raise WebSocketDisconnected(
            'Cannot call "receive" once a disconnect message has been received.'
        )

    async def send(self, message: Message) -> None:
        """Send one ASGI message, checked against the connection state."""
        state = self.application_state
        kind = message["type"]
        if state is WebSocketState.CONNECTED:
            if kind != "websocket.send" and kind != "websocket.close":
                raise RuntimeError(
                    'Expected ASGI message "websocket.send" or "websocket.close", '
                    f"but got {kind!r}."
                )
            if kind == "websocket.close":
                self.application_state = WebSocketState.DISCONNECTED
            try:
                await self._send(message)
            except OSError:
                self.application_state = WebSocketState.DISCONNECTED
                if kind == "websocket.close":
                    # Closing a connection the peer already dropped: the goal is reached.
                    return
                raise WebSocketDisconnect(code=1006) from None
            return
        if state is WebSocketState.CONNECTING:
            if kind == "websocket.accept":
                self.application_state = WebSocketState.CONNECTED
            elif kind == "websocket.close":
                self.application_state = WebSocketState.DISCONNECTED
            elif kind == "websocket.http.response.start":
                self.application_state = WebSocketState.RESPONSE
            else:
                raise RuntimeError(_ACCEPT_STATE_ERROR.format(kind))
            await self._send(message)
            return
        if state is WebSocketState.RESPONSE:
            if kind != "websocket.http.response.body":
                raise RuntimeError(
                    f'Expected ASGI message "websocket.http.response.body", but got {kind!r}.'
                )
            if not message.get("more_body", False):
                self.application_state = WebSocketState.DISCONNECTED
            await self._send(message)
            return
        raise WebSocketDisconnected('Cannot call "send" once a close message has been sent.')

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Complete the handshake, optionally picking a subprotocol and adding response headers."""
        if self.client_state is WebSocketState.CONNECTING:
            # The `websocket.connect` message has to be read before the server may be answered.
            await self.receive()
        await self.send(
            {
                "type": "websocket.accept",
                "subprotocol": subprotocol,
                "headers": list(headers) if headers is not None else [],
            }
        )

    def _connected_check(self) -> None:
        if self.application_state is not WebSocketState.CONNECTED:
            raise WebSocketDisconnected(_NOT_CONNECTED)

    def _payload(self, message: Message, key: str) -> Any:
        """The `key` ("text" or "bytes") of a message received while connected.

        A disconnect updates the state and raises WebSocketDisconnect; any other unexpected
        message is a RuntimeError saying what came.
        """
        if self._connected_message(message)["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        return _extract(message, key)

    async def _receive_payload(self, key: str) -> Any:
        """The `key` of the next message, read through `receive()` (the general path)."""
        if self.application_state is not WebSocketState.CONNECTED:
            raise WebSocketDisconnected(_NOT_CONNECTED)
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        return _extract(message, key)

    # receive_text/receive_bytes/send_text/send_bytes run once per message: while both sides are
    # connected (nearly always) each does its whole job in its own frame - the server's
    # `receive`/`send` awaited directly - instead of going through `receive()`/`send()`, so a
    # message costs one coroutine on each side and an idle connection keeps one frame alive.
    # A subclass that overrides `receive()` or `send()` is still called through it.

    async def receive_text(self) -> str:
        """The next text message; a disconnect raises WebSocketDisconnect."""
        if (
            self.client_state is WebSocketState.CONNECTED
            and self.application_state is WebSocketState.CONNECTED
            and type(self).receive is _RECEIVE
        ):
            message = await self._receive()
            if message["type"] == "websocket.receive":
                text = message.get("text")
                if type(text) is str:
                    return text
            return self._payload(message, "text")  # type: ignore[no-any-return]
        return await self._receive_payload("text")  # type: ignore[no-any-return]

    async def receive_bytes(self) -> bytes:
        """The next binary message; a disconnect raises WebSocketDisconnect."""
        if (
            self.client_state is WebSocketState.CONNECTED
            and self.application_state is WebSocketState.CONNECTED
            and type(self).receive is _RECEIVE
        ):
            message = await self._receive()
            if message["type"] == "websocket.receive":
                data = message.get("bytes")
                if type(data) is bytes:
                    return data
            return self._payload(message, "bytes")  # type: ignore[no-any-return]
        return await self._receive_payload("bytes")  # type: ignore[no-any-return]

    async def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        if mode == "text":
            return json.loads(await self.receive_text())
        if mode == "binary":
            return json.loads((await self.receive_bytes()).decode("utf-8"))
        raise RuntimeError(_JSON_MODE_ERROR.format(mode))

    async def iter_text(self) -> AsyncIterator[str]:
        """Text messages until the client disconnects (the loop then simply ends)."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    async def send_text(self, data: str) -> None:
        """Send a text message (`send()`'s connected path, inlined: see receive_text)."""
        message = {"type": "websocket.send", "text": data}
        if self.application_state is WebSocketState.CONNECTED and type(self).send is _SEND:
            try:
                await self._send(message)
            except OSError:
                self.application_state = WebSocketState.DISCONNECTED
                raise WebSocketDisconnect(code=1006) from None
            return
        await self.send(message)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message (`send()`'s connected path, inlined: see receive_text)."""
        message = {"type": "websocket.send", "bytes": data}
        if self.application_state is WebSocketState.CONNECTED and type(self).send is _SEND:
            try:
                await self._send(message)
            except OSError:
                self.application_state = WebSocketState.DISCONNECTED
                raise WebSocketDisconnect(code=1006) from None
            return
        await self.send(message)

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        if mode == "text":
            await self.send({"type": "websocket.send", "text": _dumps(data)})
        elif mode == "binary":
            await self.send({"type": "websocket.send", "bytes": _dumps(data).encode("utf-8")})
        else:
            raise RuntimeError(_JSON_MODE_ERROR.format(mode))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        await self.send({"type": "websocket.close", "code": code, "reason": reason or ""})

    async def send_denial_response(self, response: Any) -> None:
        """Refuse the handshake with an HTTP `response` (any ASGI app, usually a Response).

        Only servers advertising the `websocket.http.response` extension can relay it; elsewhere
        this raises a RuntimeError (Starlette's behaviour), and `close()` before `accept()` is
        the portable refusal (servers send it as an HTTP 403).
        """
        if self.application_state is not WebSocketState.CONNECTING:
            raise RuntimeError(
                "A denial response can only be sent before the websocket is accepted."
            )
        extensions = self.scope.get("extensions") or {}
        if "websocket.http.response" not in extensions:
            raise RuntimeError(
                "The server doesn't support the Websocket Denial Response extension. "
                "(Close the websocket before accepting it to refuse the connection instead.)"
            )

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind.startswith("http.response."):
                message = {**message, "type": "websocket." + kind}
            await self.send(message)

        await response(self.scope, self.receive, send)


# What the per-message methods compare against to know `receive`/`send` were not overridden.
_RECEIVE = WebSocket.receive
_SEND = WebSocket.send


class WebSocketClose:
    """An ASGI app that closes the websocket: return it where an app or handler is expected."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.close", "code": self.code, "reason": self.reason})
