"""ExceptionMiddleware: turn HTTPException / WebSocketException (and any exception or status
code the user registered a handler for) into a response.

It sits innermost in an App's stack, just outside the router. It publishes its handlers in
`scope["asgiforge.exception_handlers"]` so routes run them *inside* the route (see
`asgiforge.runtime._exception_handler`); it also catches what escapes a route itself, such as the
router's own 404/405 and errors from mounted sub-apps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from asgiforge.runtime._exception_handler import (
    HANDLERS_KEY,
    SendTracker,
    handle_exception,
    make_connection,
)
from asgiforge.runtime.exceptions import HTTPException, WebSocketException
from asgiforge.runtime.types import ASGIApp, Receive, Scope, Send

__all__ = ["ExceptionMiddleware"]

_NO_BODY_STATUSES = frozenset({204, 304})


class ExceptionMiddleware:
    """Handlers are keyed by status code (an `int`, for HTTPExceptions) or exception class.

    A class handler also catches subclasses (nearest class in the MRO wins). Unknown scope types
    pass straight through.
    """

    def __init__(
        self,
        app: ASGIApp,
        handlers: Mapping[Any, Callable[..., Any]] | None = None,
        debug: bool = False,
    ) -> None:
        self.app = app
        self.debug = debug
        self._status_handlers: dict[int, Callable[..., Any]] = {}
        self._exception_handlers: dict[type[BaseException], Callable[..., Any]] = {
            HTTPException: self.http_exception,
            WebSocketException: self.websocket_exception,
        }
        for key, handler in (handlers or {}).items():
            self.add_exception_handler(key, handler)
        self._handlers = (self._exception_handlers, self._status_handlers)

    def add_exception_handler(
        self,
        exc_class_or_status_code: int | type[BaseException],
        handler: Callable[..., Any],
    ) -> None:
        """Register `handler(request_or_websocket, exc)` for a status code or exception class."""
        if not callable(handler):
            raise TypeError(f"Exception handler for {exc_class_or_status_code!r} must be callable.")
        if isinstance(exc_class_or_status_code, int) and not isinstance(
            exc_class_or_status_code, bool
        ):
            self._status_handlers[exc_class_or_status_code] = handler
        elif isinstance(exc_class_or_status_code, type) and issubclass(
            exc_class_or_status_code, BaseException
        ):
            self._exception_handlers[exc_class_or_status_code] = handler
        else:
            raise TypeError(
                "Exception handlers are keyed by an HTTP status code (int) or an exception "
                f"class, got {exc_class_or_status_code!r}."
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope[HANDLERS_KEY] = self._handlers
        # Directly inside ServerErrorMiddleware (no user middleware), its tracker already
        # watches this very send channel: reuse it rather than stacking a second wrapper.
        tracker = send if type(send) is SendTracker else SendTracker(send)
        try:
            await self.app(scope, receive, tracker)
        except Exception as exc:
            await self.handle_error(exc, tracker.started, scope, receive, tracker)

    async def handle_error(
        self, exc: Exception, started: bool, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer `exc` with its handler (re-raising it when it has none)."""
        conn = make_connection(scope, receive, send)
        await handle_exception(exc, conn, self._handlers, started, scope, receive, send)

    async def http_exception(self, request: Any, exc: Exception) -> Any:
        """Default HTTPException handler: plain-text detail, the exception's status and headers
        (204 and 304 get no body, as HTTP requires)."""
        from asgiforge.runtime.responses import PlainTextResponse, Response

        if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it only
            raise exc
        if exc.status_code in _NO_BODY_STATUSES:
            return Response(status_code=exc.status_code, headers=exc.headers)
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    async def websocket_exception(self, websocket: Any, exc: Exception) -> None:
        """Default WebSocketException handler: close with the exception's code and reason."""
        if not isinstance(exc, WebSocketException):  # pragma: no cover - registered for it only
            raise exc
        await websocket.close(code=exc.code, reason=exc.reason)
