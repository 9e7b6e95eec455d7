"""Endpoint adapters: turn `endpoint(request)` / `endpoint(websocket)` into an ASGI app.

Why a module of its own: a route only decides *whether* its endpoint needs adapting (a plain
function or method does, a class or other callable is already an ASGI app); what the adapted app
does per request (build the Request or WebSocket, run sync code in the thread pool, run the
exception handlers inside the route) is the same for every route. `routing` re-exports
`request_response` and `websocket_session`, Starlette's public names.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from asgiforge.runtime._exception_handler import HANDLERS_KEY, SendTracker, handle_exception
from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.concurrency import run_in_threadpool
from asgiforge.runtime.types import ASGIApp, Receive, Scope, Send

_new = object.__new__


def is_function(endpoint: Any) -> bool:
    """Whether a route should adapt `endpoint` (a function or method, possibly a partial)."""
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return inspect.isfunction(endpoint) or inspect.ismethod(endpoint)


async def _run_sync(func: Callable[[Any], Any], request: Any) -> Any:
    return await run_in_threadpool(func, request)


def request_response(func: Callable[[Any], Any]) -> ASGIApp:
    """Turn `endpoint(request) -> Response` into an ASGI app.

    Sync endpoints run in the thread pool. Exception handlers registered by ExceptionMiddleware
    run here, inside the route, so route-level middleware sees the error response.
    """
    from asgiforge.runtime.requests import Request
    from asgiforge.runtime.responses import Response

    _send_whole = Response.__call__

    call: Callable[[Any], Awaitable[Any]] = (
        func if is_async_callable(func) else functools.partial(_run_sync, func)
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # Request(scope, receive, send) without its __init__ frame (that only checks the
            # scope type, known here, and stores the three): once per request.
            request = _new(Request)
            request.scope = scope
            request._receive = receive
            request._send = send
        else:
            request = Request(scope, receive, send)  # raises the clear error for other types
        handlers = scope.get(HANDLERS_KEY)
        tracker = send
        if handlers is not None and type(send) is not SendTracker:
            # Handlers need to know whether the response started; reuse ExceptionMiddleware's
            # tracker when it hands us its own send directly.
            tracker = SendTracker(send)
        try:
            response = await call(request)
            if type(response).__call__ is _send_whole:
                # Response.__call__ inlined for HTTP (the common case): one coroutine fewer.
                # A SendTracker's bookkeeping is done here too, so neither message pays for a
                # call through it.
                out = tracker
                if type(tracker) is SendTracker:
                    tracker.started = True
                    out = tracker.send
                await out(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": response.raw_headers,
                    }
                )
                await out({"type": "http.response.body", "body": response.body})
                if response.background is not None:
                    await response.background()
            else:
                await response(scope, receive, tracker)
        except Exception as exc:
            if handlers is None:
                raise
            started = tracker.started  # type: ignore[attr-defined]  # a SendTracker here
            await handle_exception(exc, request, handlers, started, scope, receive, tracker)

    return app


def websocket_session(func: Callable[[Any], Any]) -> ASGIApp:
    """Turn `endpoint(websocket)` into an ASGI app.

    An exception no handler takes closes an accepted socket with 1011 before propagating, so
    the client is never left with a half-open connection.
    """
    from asgiforge.runtime.websockets import WebSocket

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session = WebSocket(scope, receive=receive, send=send)
        handlers = scope.get(HANDLERS_KEY)
        try:
            if handlers is None:
                await func(session)
            else:
                try:
                    await func(session)
                except Exception as exc:
                    await handle_exception(exc, session, handlers, False, scope, receive, send)
        except Exception:
            await _close_if_open(session)
            raise

    return app


async def _close_if_open(websocket: Any) -> None:
    state = getattr(websocket, "application_state", None)
    client_state = getattr(websocket, "client_state", None)
    if getattr(state, "name", None) == "CONNECTED" and getattr(client_state, "name", None) == (
        "CONNECTED"
    ):
        try:
            await websocket.close(code=1011)
        except Exception:  # noqa: S110 - the original error matters more than this one
            pass
