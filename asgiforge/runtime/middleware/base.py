"""BaseHTTPMiddleware: write middleware as ``async def dispatch(request, call_next)``.

``call_next(request)`` runs the rest of the app in a task and returns as soon as the app has sent
its response *start*; the body is then relayed chunk by chunk (a zero-size channel gives
back-pressure), so streaming responses keep streaming and nothing is buffered whole. Compared to
Starlette's implementation it also:

* runs the response's background tasks to completion (the request's task group is only left,
  never cancelled, once the body is out) instead of risking their cancellation;
* copies context variables the endpoint set back into ``dispatch``'s context when ``call_next``
  returns, so ``dispatch`` can read a request id or user the endpoint put in a ContextVar;
* ends cleanly when the client disconnects: sending stops, the app is told ``http.disconnect``
  and cancelled, and no ``OSError`` escapes to the server;
* uses one task group per request and no extra "wait for disconnect" task per ``receive``.

An exception raised by the app before its response started is raised from ``call_next`` (so
``dispatch`` can catch it); one raised while streaming the body propagates out of the middleware,
as in Starlette.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from asgiforge.runtime.background import BackgroundTask
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import Response
from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BaseHTTPMiddleware", "DispatchFunction", "RequestResponseEndpoint"]

RequestResponseEndpoint = Callable[[Request], Awaitable[Response]]
DispatchFunction = Callable[[Request, RequestResponseEndpoint], Awaitable[Response]]

_DISCONNECT: Message = {"type": "http.disconnect"}
_MISSING = object()


class _StreamingResponse(Response):
    """What ``call_next`` returns: the app's status and headers, its body still streaming.

    `headers` is mutable (``response.headers["X-Time"] = ...`` works) because nothing has been
    sent to the client yet when ``dispatch`` receives it.
    """

    def __init__(
        self,
        status_code: int,
        raw_headers: list[tuple[bytes, bytes]],
        body_iterator: AsyncIterator[bytes],
        info: Mapping[str, Any] | None = None,
    ) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self._headers = None
        self.media_type = None
        self.background: BackgroundTask | None = None
        self.body_iterator = body_iterator
        self.info = info
        self.client_disconnected = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # ASGI 2.4: `send` raises OSError once the client is gone. Nothing left to do.
            self.client_disconnected = True
            return
        if self.background is not None:
            await self.background()


class _Call:
    """Per-request state shared by ``call_next``, the app task and the wrapped receive."""

    __slots__ = (
        "app_error",
        "called",
        "context",
        "receive",
        "receive_stream",
        "replayed",
        "request",
        "response_done",
        "send_stream",
    )

    def __init__(self, request: Request, receive: Receive) -> None:
        self.request = request
        self.receive = receive
        self.app_error: Exception | None = None
        self.called = False
        self.replayed = False
        self.response_done = False
        self.context: contextvars.Context | None = None
        self.send_stream: MemoryObjectSendStream[Message] | None = None
        self.receive_stream: MemoryObjectReceiveStream[Message] | None = None

    async def app_receive(self) -> Message:
        """The app's `receive`: replays a body `dispatch` already read, then the real stream."""
        if self.response_done:
            return _DISCONNECT
        if not self.replayed:
            request = self.request
            body = getattr(request, "_body", None)
            if body is not None:
                self.replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            if getattr(request, "_stream_consumed", False):
                self.replayed = True
                return {"type": "http.request", "body": b"", "more_body": False}
        message = await self.receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            # The app has the whole body now; `dispatch` reading it later must not block.
            self.replayed = True
            self.request._stream_consumed = True
        return message

    async def app_send(self, message: Message) -> None:
        stream = self.send_stream
        if stream is None:  # pragma: no cover - set before the app starts
            raise RuntimeError("BaseHTTPMiddleware: app sent before call_next set up")
        if message["type"] == "http.response.start":
            self.context = contextvars.copy_context()
        try:
            await stream.send(message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # Nobody reads the app's response any more (dispatch returned another response,
            # or the client left): behave like a disconnected client would under ASGI 2.4.
            raise OSError("the response is no longer being read") from None


class BaseHTTPMiddleware:
    """Subclass and override ``dispatch``, or pass ``dispatch=`` a function."""

    def __init__(self, app: ASGIApp, dispatch: DispatchFunction | None = None) -> None:
        self.app = app
        self.dispatch_func: DispatchFunction = self.dispatch if dispatch is None else dispatch

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        raise NotImplementedError(
            "Override BaseHTTPMiddleware.dispatch() or pass dispatch= to the constructor"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request = Request(scope, receive)
        call = _Call(request, receive)
        error: Exception | None = None

        async with anyio.create_task_group() as group:

            async def run_app() -> None:
                send_stream = call.send_stream
                if send_stream is None:  # pragma: no cover - set before start_soon
                    return
                with send_stream:
                    try:
                        await self.app(scope, call.app_receive, call.app_send)
                    except Exception as exc:
                        call.app_error = exc

            async def call_next(_: Request) -> Response:
                if call.called:
                    raise RuntimeError("call_next() may only be called once per request")
                call.called = True
                send_stream, receive_stream = anyio.create_memory_object_stream[Message](0)
                call.send_stream, call.receive_stream = send_stream, receive_stream
                group.start_soon(run_app)
                start = await _next_message(receive_stream)
                while start is not None and start["type"] == "http.response.debug":
                    start = await _next_message(receive_stream)
                if start is None:
                    if call.app_error is not None:
                        raise call.app_error
                    raise RuntimeError("No response returned.")
                if start["type"] != "http.response.start":
                    raise RuntimeError(
                        f"Expected 'http.response.start' from the app, got {start['type']!r}"
                    )
                _copy_context_back(call.context)
                return _StreamingResponse(
                    status_code=start["status"],
                    raw_headers=list(start.get("headers", ())),
                    body_iterator=_body(receive_stream, call),
                )

            try:
                response = await self.dispatch_func(request, call_next)
                await response(scope, receive, send)
                if getattr(response, "client_disconnected", False):
                    group.cancel_scope.cancel()
            except Exception as exc:
                error = exc
                group.cancel_scope.cancel()
            finally:
                call.response_done = True
                if call.receive_stream is not None:
                    call.receive_stream.close()
        if error is not None:
            raise error


async def _next_message(stream: MemoryObjectReceiveStream[Message]) -> Message | None:
    try:
        return await stream.receive()
    except anyio.EndOfStream:
        return None


async def _body(stream: MemoryObjectReceiveStream[Message], call: _Call) -> AsyncIterator[bytes]:
    """Relay the app's body messages; stop at the last one without waiting for background work."""
    while True:
        message = await _next_message(stream)
        if message is None:
            if call.app_error is not None:
                raise call.app_error
            return
        if message["type"] != "http.response.body":
            continue
        body: bytes = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


def _copy_context_back(context: contextvars.Context | None) -> None:
    """Set, in the caller's context, every ContextVar whose value the app task changed."""
    if context is None:
        return
    for var, value in context.items():
        if var.get(_MISSING) is not value:
            var.set(value)
