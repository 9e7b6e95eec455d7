"""Run exception handlers *inside* the route that raised.

`ExceptionMiddleware` only registers the handlers (in `scope["asgiforge.exception_handlers"]`);
`routing.request_response` and `routing.websocket_session` catch errors right where the endpoint
runs and turn them into responses there. That way route-level middleware sees the error response
like any other response, exactly as in Starlette.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.concurrency import run_in_threadpool
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HANDLERS_KEY", "wrap_app_handling_exceptions"]

#: Where `ExceptionMiddleware` publishes `(handlers_by_exception_class, handlers_by_status_code)`.
HANDLERS_KEY = "asgiforge.exception_handlers"

ExceptionHandlers = Mapping[Any, Any]
StatusHandlers = Mapping[int, Any]


def lookup_exception_handler(handlers: ExceptionHandlers, exc: BaseException) -> Any:
    """The handler registered for the nearest class in `exc`'s MRO, or None.

    Walking the MRO means a handler for `LookupError` also catches `KeyError`, while a more
    specific handler registered for `KeyError` wins.
    """
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return handler
    return None


class SendTracker:
    """Wraps `send` to remember whether the response has started.

    A handler must not send a second `http.response.start`; knowing this lets us raise a clear
    error instead of a confusing protocol error from the server. A slotted object is cheaper than
    a fresh closure per request, and a plain method that hands back the wrapped send's awaitable
    costs no coroutine of its own: every message of every response passes through here.
    """

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            self.started = True
        return self.send(message)


async def handle_exception(
    exc: Exception,
    conn: Any,
    handlers: tuple[ExceptionHandlers, StatusHandlers],
    response_started: bool,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Answer `exc` with its registered handler, or re-raise it when there is none.

    `conn` is the Request (HTTP) or WebSocket the handler receives. HTTPExceptions are looked
    up by status code first, then by class.
    """
    exception_handlers, status_handlers = handlers
    handler = None
    if isinstance(exc, HTTPException):
        handler = status_handlers.get(exc.status_code)
    if handler is None:
        handler = lookup_exception_handler(exception_handlers, exc)
    if handler is None:
        raise exc
    if response_started:
        raise RuntimeError(
            "Caught handled exception, but response already started. "
            f"({type(exc).__name__} has a handler, but the response had already started, so no "
            "error response can be sent.)"
        ) from exc
    if is_async_callable(handler):
        response = await handler(conn, exc)
    else:
        response = await run_in_threadpool(handler, conn, exc)
    if response is not None:
        await response(scope, receive, send)
    # A handled exception is over. Apps that raise one shared instance (a module-level
    # `NOT_FOUND = HTTPException(404)`) would otherwise grow its traceback - and keep every
    # frame of every request alive - with each raise.
    exc.__traceback__ = None


def make_connection(scope: Scope, receive: Receive, send: Send) -> Any:
    """Build the Request or WebSocket a handler receives, only when a handler needs it."""
    if scope["type"] == "websocket":
        from asgiforge.runtime.websockets import WebSocket

        return WebSocket(scope, receive=receive, send=send)
    from asgiforge.runtime.requests import Request

    return Request(scope, receive, send)


def wrap_app_handling_exceptions(app: ASGIApp, conn: Any) -> ASGIApp:
    """Return `app` wrapped so exceptions it raises go to the registered handlers.

    With no handlers registered in the scope (a bare Router, no ExceptionMiddleware), `app`
    itself is returned: there is nothing to catch.
    """
    handlers = conn.scope.get(HANDLERS_KEY)
    if handlers is None:
        return app

    async def wrapped_app(scope: Scope, receive: Receive, send: Send) -> None:
        tracker = SendTracker(send)
        try:
            await app(scope, receive, tracker)
        except Exception as exc:
            await handle_exception(exc, conn, handlers, tracker.started, scope, receive, tracker)

    return wrapped_app
