"""The default App stack, ServerErrorMiddleware + ExceptionMiddleware, run in one frame.

Why: an App with no user middleware is the common case, and the two middlewares around its router
cost two coroutine frames and a send wrapper each per request (and per open WebSocket, whose
frames stay alive for the whole connection). `ErrorBoundary` *is* a ServerErrorMiddleware whose
`app` is the ExceptionMiddleware, so the stack looks the same to anyone walking `.app`; it just
calls the router itself and runs both middlewares' error paths (`handle_error`, then
`respond_to_error`) exactly where their own `__call__` would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiforge.runtime._exception_handler import HANDLERS_KEY, SendTracker
from asgiforge.runtime.middleware.errors import ServerErrorMiddleware
from asgiforge.runtime.middleware.exceptions import ExceptionMiddleware
from asgiforge.runtime.types import Receive, Scope, Send

__all__ = ["ErrorBoundary"]

_new = object.__new__


class ErrorBoundary(ServerErrorMiddleware):
    """`ServerErrorMiddleware(ExceptionMiddleware(router))` with the behaviour of both."""

    def __init__(
        self,
        app: ExceptionMiddleware,
        handler: Callable[..., Any] | None = None,
        debug: bool = False,
    ) -> None:
        super().__init__(app, handler=handler, debug=debug)
        self.exceptions = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exceptions = self.exceptions
        kind = scope["type"]
        if kind == "http":
            scope[HANDLERS_KEY] = exceptions._handlers
            # SendTracker(send) without running its __init__ frame: this runs once per request.
            tracker = _new(SendTracker)
            tracker.send = send
            tracker.started = False
            try:
                try:
                    await exceptions.app(scope, receive, tracker)
                except Exception as exc:
                    await exceptions.handle_error(exc, tracker.started, scope, receive, tracker)
            except Exception as exc:
                await self.respond_to_error(exc, tracker.started, scope, receive, send)
                raise
        elif kind == "websocket":
            # No response-start can pass on a websocket channel (a denial response uses its own
            # message type), so the tracker ExceptionMiddleware would add is always "not started".
            scope[HANDLERS_KEY] = exceptions._handlers
            try:
                await exceptions.app(scope, receive, send)
            except Exception as exc:
                await exceptions.handle_error(exc, False, scope, receive, send)
        else:
            await exceptions.app(scope, receive, send)
