"""RequestBodyLimitMiddleware: cap the size of request bodies (413 beyond the cap).

Not in Starlette: without a cap, one client can stream gigabytes into ``await request.body()``.
The check happens inside ``receive``, so nothing is read before the app asks for the body, and:

* with a ``Content-Length`` above the cap the request is refused on the app's first read,
  before a single body byte is pulled from the server;
* without one (chunked transfer) bytes are counted as they arrive and the request is refused as
  soon as the running total passes the cap, so memory stays bounded.

Per-route override: the effective cap is read, on the first ``receive()``, from
``scope["asgiforge.max_body_size"]`` (an int, or ``None`` for no limit) when present, else the
middleware's `max_body_size`. Routing runs before the endpoint reads its body, so a route (or any
inner middleware) may set that key; the :func:`max_body_size` decorator does it for an endpoint.

The refusal is raised as :class:`RequestBodyTooLarge`, an ``HTTPException(413)``, so an app's own
413 handler renders it; if it escapes the app before a response started, the middleware sends a
plain 413 itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SCOPE_KEY", "RequestBodyLimitMiddleware", "RequestBodyTooLarge", "max_body_size"]

SCOPE_KEY = "asgiforge.max_body_size"
# Holder shared by reference, so an override set on a copied scope still reaches the counter.
_STATE_KEY = "asgiforge.body_limit"

_DEFAULT_MAX = 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


class RequestBodyTooLarge(HTTPException):
    """The request body is over the configured limit (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds the limit of {limit} bytes")
        self.limit = limit


class _LimitState:
    __slots__ = ("limit",)

    def __init__(self, limit: int | None) -> None:
        self.limit = limit


def _effective_limit(scope: Scope, state: _LimitState) -> int | None:
    if SCOPE_KEY in scope:
        value: int | None = scope[SCOPE_KEY]
        return value
    return state.limit


class RequestBodyLimitMiddleware:
    """Refuse request bodies larger than `max_body_size` bytes (``None`` disables the cap)."""

    def __init__(self, app: ASGIApp, max_body_size: int | None = _DEFAULT_MAX) -> None:
        if max_body_size is not None and (
            not isinstance(max_body_size, int) or isinstance(max_body_size, bool)
        ):
            raise TypeError(f"max_body_size must be an int or None, got {max_body_size!r}")
        if max_body_size is not None and max_body_size < 0:
            raise ValueError(f"max_body_size must be >= 0, got {max_body_size}")
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = _LimitState(self.max_body_size)
        scope[_STATE_KEY] = state
        declared: int | None = None
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                break
        received = 0
        checked = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, checked
            limit = _effective_limit(scope, state)
            if not checked:
                checked = True
                if limit is not None and declared is not None and declared > limit:
                    raise RequestBodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request" and limit is not None:
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestBodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestBodyTooLarge as exc:
            if response_started:
                raise
            body = exc.detail.encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def max_body_size(limit: int | None) -> Callable[[F], F]:
    """Decorate an endpoint (``request`` first argument) to give its route its own body cap.

    ``Route("/upload", max_body_size(50_000_000)(upload))``. It only sets the scope key before
    the endpoint runs, so it needs `RequestBodyLimitMiddleware` installed to have an effect.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"max_body_size must be a non-negative int or None, got {limit!r}")

    def apply(request: Any) -> None:
        scope = request.scope
        scope[SCOPE_KEY] = limit
        state = scope.get(_STATE_KEY)
        if isinstance(state, _LimitState):
            state.limit = limit

    def decorator(func: F) -> F:
        if is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
                apply(request)
                return await func(request, *args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def sync_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            apply(request)
            return func(request, *args, **kwargs)

        return sync_wrapper  # type: ignore[return-value]

    return decorator
