"""BaseHTTPMiddleware: write middleware as ``async def dispatch(request, call_next)``.

``call_next(request)`` runs the rest of the app in a task and returns as soon as the app has sent
its response *start*; the body is then relayed chunk by chunk (a zero-size channel gives
back-pressure), so streaming responses keep streaming and nothing is buffered whole. Compared to
Starlette's implementation it also:

* runs the response's background tasks to completion (the request's task group is only left,
  never cancelled, once the body is out) instead of risking their cancellation; as in
  Starlette they start only once the client has the whole response, and an error they raise
  propagates out of the middleware;
* ends cleanly when the client disconnects: sending stops, the app is told ``http.disconnect``
  and cancelled, and no ``OSError`` escapes to the server;
* uses one task group per request and no extra "wait for disconnect" task per ``receive``.

A disconnect is remembered: once the app or ``dispatch`` has seen ``http.disconnect``, later
``receive()`` calls (from either side) return it without waiting on the server for another.
Early hints the app sends go straight out; a ``pathsend`` response is relayed as it is.

An exception raised by the app before its response started is raised from ``call_next`` (so
``dispatch`` can catch it); one raised while streaming the body propagates out of the middleware,
as in Starlette. As in Starlette too, the app runs in its own task, so a ContextVar the
endpoint sets is not seen by ``dispatch`` (one ``dispatch`` sets is seen by the endpoint).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Mapping
from typing import Any

import anyio

from asgiforge.runtime._utils import current_asyncio_task
from asgiforge.runtime.background import BackgroundTask
from asgiforge.runtime.requests import ClientDisconnect, Request
from asgiforge.runtime.responses import Response
from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BaseHTTPMiddleware", "DispatchFunction", "RequestResponseEndpoint"]

RequestResponseEndpoint = Callable[[Request], Awaitable[Response]]
DispatchFunction = Callable[[Request, RequestResponseEndpoint], Awaitable[Response]]

_DISCONNECT: Message = {"type": "http.disconnect"}
# Messages an app may send before its response start: debug info (the TestClient's) and
# 103 Early Hints, which go to the client at once.
_BEFORE_START = frozenset({"http.response.debug", "http.response.early_hint"})


class _NoResponse(Exception):
    """The app's response stream ended without a response start (its error follows)."""


class _NotRead(OSError):
    """Raised into the app when nobody reads its response any more (ASGI 2.4's OSError)."""


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
            if self.info is not None:  # the app's debug info (template and context) goes on
                await send({"type": "http.response.debug", "info": self.info})
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            finished = False
            async for chunk in self.body_iterator:
                if isinstance(chunk, dict):  # a message that is not a body chunk: pathsend
                    await send(chunk)
                    finished = True
                    continue
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not finished:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # ASGI 2.4: `send` raises OSError once the client is gone. Nothing left to do.
            self.client_disconnected = True
            return
        if self.background is not None:
            await self.background()


class _EventSignal:
    """A one-shot signal off asyncio, with the three operations of an asyncio future it uses."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def __await__(self) -> Generator[Any, None, None]:
        return self._event.wait().__await__()

    def done(self) -> bool:
        return self._event.is_set()

    def set_result(self, _: None) -> None:
        self._event.set()


_Signal = asyncio.Future[None] | _EventSignal


class _Call:
    """Per-request state shared by ``call_next``, the app task and the wrapped receive.

    It is also the channel carrying the app's response messages to ``dispatch``: a queue plus
    two one-shot signals, which costs a fraction of an anyio memory stream (no checkpoint per
    message). On asyncio a signal is a bare future: an anyio Event wraps an asyncio Event, which
    makes a future of its own, and a streamed body makes two signals per chunk.
    `http.response.start` is queued without waiting, so a plain response crosses in one hop;
    any other message waits until ``dispatch`` has taken it, which keeps back-pressure for
    streaming bodies exactly as a zero-size stream would.
    """

    __slots__ = (
        "app_done",
        "app_error",
        "called",
        "closed",
        "disconnected",
        "error_raised",
        "loop",
        "queue",
        "ready",
        "receive",
        "refused",
        "replayed",
        "request",
        "response_done",
        "sent",
        "taken",
    )

    def __init__(
        self, request: Request, receive: Receive, loop: asyncio.AbstractEventLoop | None
    ) -> None:
        self.request = request
        self.receive = receive
        self.loop = loop  # None off asyncio (trio): signals are then anyio Events
        self.app_error: Exception | None = None
        self.error_raised = False  # app_error already raised from call_next or the body
        self.called = False
        self.disconnected = False
        self.refused = False  # the app was told (OSError) that its response is not read
        self.sent: _Signal | None = None  # set once the whole response went out
        self.replayed = False
        self.response_done = False
        self.queue: deque[Message] = deque()
        self.ready: _Signal | None = None  # set when the queue gains a message or ends
        self.taken: _Signal | None = None  # set when dispatch empties the queue
        self.app_done = False  # the app task has finished: no more messages
        self.closed = False  # dispatch stopped reading: further sends fail

    async def app_receive(self) -> Message:
        """The app's `receive`: replays a body `dispatch` already read, then the real stream."""
        if self.response_done or self.disconnected:
            # Once seen, a disconnect is final: never wait on the server for a second one.
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
        request = self.request
        if request._is_disconnected:  # `dispatch` saw the client leave
            self.disconnected = True
            return _DISCONNECT
        message = await self.receive()
        kind = message["type"]
        if kind == "http.request" and not message.get("more_body", False):
            # The app has the whole body now; `dispatch` reading it later must not block.
            self.replayed = True
            request._stream_consumed = True
        elif kind == "http.disconnect":
            # Shared with `dispatch`'s request, so `request.is_disconnected()` knows too.
            self.disconnected = True
            request._is_disconnected = True
        return message

    async def app_send(self, message: Message) -> None:
        if self.closed:
            # Nobody reads the app's response any more (dispatch returned another response,
            # or the client left): behave like a disconnected client would under ASGI 2.4.
            self.refused = True
            raise _NotRead("the response is no longer being read")
        kind = message["type"]
        self.queue.append(message)
        self._wake_reader()
        if kind == "http.response.start":
            return
        while self.queue and not self.closed:
            taken = self.taken = self._signal()
            await taken
        if self.queue:  # closed before dispatch took it
            self.refused = True
            raise _NotRead("the response is no longer being read")
        last = kind == "http.response.pathsend" or (
            kind == "http.response.body" and not message.get("more_body", False)
        )
        if last and not self.response_done:
            # The app's last message: its background tasks run after it returns, and they
            # must run after the client has the response, as they would without middleware.
            sent = self.sent = self._signal()
            await sent

    def _signal(self) -> _Signal:
        loop = self.loop
        return _EventSignal() if loop is None else loop.create_future()

    def _wake_reader(self) -> None:
        ready = self.ready
        if ready is not None:
            self.ready = None
            if not ready.done():  # a waiter cancelled meanwhile leaves it done
                ready.set_result(None)

    def _wake_writer(self) -> None:
        taken = self.taken
        if taken is not None:
            self.taken = None
            if not taken.done():
                taken.set_result(None)

    def finish(self) -> None:
        """The app task ended: wake a reader waiting for a message that will never come."""
        self.app_done = True
        self._wake_reader()

    def close(self) -> None:
        """``dispatch`` is done reading: pending and later sends raise OSError in the app."""
        self.closed = True
        self.response_done = True
        self._wake_writer()
        sent = self.sent
        if sent is not None:
            self.sent = None
            if not sent.done():
                sent.set_result(None)

    async def next_message(self) -> Message | None:
        """The app's next message, or None once it has finished without sending more."""
        while not self.queue:
            if self.app_done or self.closed:
                return None
            ready = self.ready = self._signal()
            await ready
        message = self.queue.popleft()
        if not self.queue:
            self._wake_writer()
        return message


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

        request = Request(scope, receive, send)
        host = current_asyncio_task()
        call = _Call(request, receive, None if host is None else host.get_loop())
        if host is None:  # trio (or another loop): anyio's task group
            async with anyio.create_task_group() as group:
                error = await self._serve(
                    scope, send, call, group.start_soon, group.cancel_scope.cancel
                )
        else:
            # On asyncio a plain task does the same job as a one-child task group at a fraction
            # of the cost (the task group is most of this middleware's overhead otherwise).
            child = _AsyncioChild()
            try:
                error = await self._serve(scope, send, call, child.start, child.cancel)
            except BaseException:
                await child.cancel_and_wait()
                raise
            await child.wait(host)
        if error is not None:
            raise error
        late = call.app_error
        if late is not None and not call.error_raised and not (call.refused and _gone(late)):
            # The app failed after its response went out (a background task): the server
            # must still hear of it, as without the middleware.
            raise late

    async def _serve(
        self,
        scope: Scope,
        send: Send,
        call: _Call,
        start_soon: Callable[[Callable[[], Coroutine[Any, Any, None]]], object],
        cancel: Callable[[], None],
    ) -> Exception | None:
        """Run ``dispatch`` and send its response; the app runs in a task `start_soon` starts.

        Returns the exception ``dispatch`` (or sending its response) raised, after `cancel`
        has stopped the app; the caller waits for the app task, then raises it.
        """
        request = call.request

        async def run_app() -> None:
            try:
                await self.app(scope, call.app_receive, call.app_send)
            except Exception as exc:
                call.app_error = exc
            finally:
                call.finish()

        async def call_next(_: Request) -> Response:
            if call.called:
                raise RuntimeError("call_next() may only be called once per request")
            call.called = True
            start_soon(run_app)
            info = None
            start = await call.next_message()
            while start is not None and start["type"] in _BEFORE_START:
                if start["type"] == "http.response.early_hint":
                    await send(start)
                else:
                    info = start.get("info")
                start = await call.next_message()
            if start is None:
                error = call.app_error
                if error is not None:
                    call.error_raised = True
                    try:
                        raise _NoResponse
                    except _NoResponse:
                        # As Starlette: an implicit context becomes the explicit cause, and the
                        # end of the response stream is the (suppressed) context.
                        raise error from error.__cause__ or error.__context__
                raise RuntimeError("No response returned.")
            if start["type"] != "http.response.start":
                raise RuntimeError(
                    f"Expected 'http.response.start' from the app, got {start['type']!r}"
                )
            return _StreamingResponse(
                status_code=start["status"],
                raw_headers=list(start.get("headers", ())),
                body_iterator=_Body(call),
                info=info,
            )

        try:
            response = await self.dispatch_func(request, call_next)
            await response(scope, call.receive, send)
            if getattr(response, "client_disconnected", False):
                cancel()
        except Exception as exc:
            cancel()
            return exc
        finally:
            call.close()
        return None


class _AsyncioChild:
    """The app's task on asyncio, with a task group's guarantees for this one child: it is
    cancelled if the middleware is, and the middleware returns only once it has finished."""

    __slots__ = ("cancelled", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.cancelled = False

    def start(self, func: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.task = asyncio.get_running_loop().create_task(func())

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.cancelled = True
            self.task.cancel()

    async def cancel_and_wait(self) -> None:
        """Our own task is being cancelled (or failed): stop the app and let it clean up."""
        task = self.task
        if task is None or task.done():
            return
        self.cancelled = True
        task.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait((task,))

    async def wait(self, host: asyncio.Task[Any]) -> None:
        task = self.task
        if task is None:
            return
        try:
            await task
        except asyncio.CancelledError:
            # Expected when we cancelled the app; anything else (our own task being cancelled)
            # propagates.
            if not self.cancelled or host.cancelling():
                raise


def _gone(exc: Exception) -> bool:
    """Whether `exc` is only how an app reports "the client is gone" (OSError from `send`, or
    the ClientDisconnect a StreamingResponse turns it into), or a task group of those: after we
    told the app its response is not read, that is no error of the app's."""
    if isinstance(exc, ExceptionGroup):
        return exc.split((OSError, ClientDisconnect))[1] is None
    return isinstance(exc, OSError | ClientDisconnect)


class _Body:
    """Relays the app's body messages to the response ``call_next`` returned.

    Stops at the last one without waiting for background work. A pathsend message is handed
    on as it is. A plain iterator rather than an async generator: one abandoned half-way (the
    client left) needs no ``aclose()`` to be cleaned up.
    """

    __slots__ = ("_call", "_done")

    def __init__(self, call: _Call) -> None:
        self._call = call
        self._done = False

    def __aiter__(self) -> _Body:
        return self

    async def aclose(self) -> None:
        """Stop relaying (as an async generator's ``aclose()``); the app is told when the
        response it was writing is no longer read."""
        self._done = True

    async def __anext__(self) -> Any:
        call = self._call
        while not self._done:
            message = await call.next_message()
            if message is None:
                self._done = True
                error = call.app_error
                if error is not None:
                    call.error_raised = True
                    raise error
                break
            kind = message["type"]
            if kind == "http.response.pathsend":
                self._done = True
                return message
            if kind != "http.response.body":
                continue
            if not message.get("more_body", False):
                self._done = True
            body: bytes = message.get("body", b"")
            if body:
                return body
        raise StopAsyncIteration
