"""RequestBodyLimitMiddleware: cap the size of request bodies (413 beyond the cap).

Without a cap, one client can stream gigabytes into ``await request.body()``. This is the
middleware behind Starlette 1.6's ``max_body_size=`` on ``App``, ``Router``, ``Route`` and
``Mount`` (each of them wraps its app in one only when a limit is given, so an unlimited app pays
nothing per request). The check happens inside ``receive``, so nothing is read before the app
asks for the body, and:

* with a ``Content-Length`` above the cap the request is refused on the app's first read, before
  a single body byte is pulled from the server, or when the app starts a response without
  reading (the body is never drained);
* without one (chunked transfer) bytes are counted as they arrive and the request is refused as
  soon as the running total passes the cap, so memory stays bounded.

Nesting: the innermost setting wins. The outermost limiter of a request does the counting; an
inner one (a Mount's, then a Route's) only replaces the limit it enforces, up or down, and
refuses at once if more than the new limit was already read. ``None`` (our extension) lifts the
limit for everything inside. ``scope[MAX_BODY_SIZE_SCOPE_KEY]`` holds the limit in force, for
code that wants to know it; the :func:`max_body_size` decorator changes it from an endpoint.

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

__all__ = [
    "MAX_BODY_SIZE_SCOPE_KEY",
    "SCOPE_KEY",
    "RequestBodyLimitMiddleware",
    "RequestBodyTooLarge",
    "answered_further_out",
    "max_body_size",
]

# Starlette's key, value included, so code that reads the literal string ports unchanged.
MAX_BODY_SIZE_SCOPE_KEY = "starlette.max_body_size"
SCOPE_KEY = MAX_BODY_SIZE_SCOPE_KEY  # our name for it before Starlette 1.6 named it
# The counter of the outermost limiter, shared by reference so that a limiter or decorator
# further in (even on a copied scope) changes the limit the counter enforces.
_STATE_KEY = "asgiforge.body_limit"

_DEFAULT_MAX = 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


class RequestBodyTooLarge(HTTPException):
    """The request body is over the configured limit (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        # Starlette's text, which clients and tests compare; the limit is on `.limit`.
        super().__init__(413, "Content Too Large")
        self.limit = limit


class _ResponseReplaced(Exception):
    """Unwinds the app after its response was replaced by a 413 (caught by the limiter)."""


class _LimitState:
    __slots__ = ("limit", "received")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.received = 0


def answered_further_out(exc: BaseException, scope: Scope) -> bool:
    """True if `exc` is a body-limit refusal that an enclosing limiter will answer with a 413.

    An error boundary between the limiter and the code that read the body (a mounted App's
    ServerErrorMiddleware, around an ``http`` middleware that read the body) must let it pass
    instead of turning it into a 500.
    """
    return isinstance(exc, RequestBodyTooLarge) and isinstance(scope.get(_STATE_KEY), _LimitState)


def validate_max_body_size(value: object, what: str = "max_body_size") -> None:
    """Refuse a limit that is not a non-negative int or None, when it is configured."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int or None, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")


def _set_limit(scope: Scope, limit: int | None) -> None:
    """Make `limit` the one in force (innermost wins); 413 now if more was already read."""
    scope[MAX_BODY_SIZE_SCOPE_KEY] = limit
    state = scope.get(_STATE_KEY)
    if isinstance(state, _LimitState):
        state.limit = limit
        if limit is not None and state.received > limit:
            raise RequestBodyTooLarge(limit)


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, limit: int) -> None:
    body = RequestBodyTooLarge(limit).detail.encode()
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


class RequestBodyLimitMiddleware:
    """Refuse request bodies larger than `max_body_size` bytes (``None`` disables the cap)."""

    def __init__(self, app: ASGIApp, max_body_size: int | None = _DEFAULT_MAX) -> None:
        validate_max_body_size(max_body_size, "max_body_size")
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if isinstance(scope.get(_STATE_KEY), _LimitState):
            # An outer limiter already counts this request: only change its limit.
            _set_limit(scope, self.max_body_size)
            await self.app(scope, receive, send)
            return

        missing = object()
        previous = scope.get(MAX_BODY_SIZE_SCOPE_KEY, missing)
        state = _LimitState(self.max_body_size)
        scope[_STATE_KEY] = state
        scope[MAX_BODY_SIZE_SCOPE_KEY] = self.max_body_size
        declared = _declared_length(scope)
        response_started = False

        async def limited_receive() -> Message:
            limit = state.limit
            if limit is not None and declared is not None and declared > limit:
                raise RequestBodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                state.received += len(message.get("body", b""))
                limit = state.limit
                if limit is not None and state.received > limit:
                    raise RequestBodyTooLarge(limit)
            return message

        async def limited_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                limit = state.limit
                if (
                    limit is not None
                    and declared is not None
                    and declared > limit
                    and message["status"] != 413
                ):
                    # The app answered without reading an oversized body: refuse it anyway,
                    # as the server would otherwise have to drain it.
                    await _send_413(send, limit)
                    raise _ResponseReplaced
            await send(message)

        try:
            await self.app(scope, limited_receive, limited_send)
        except RequestBodyTooLarge as exc:
            if response_started:
                raise
            await _send_413(send, exc.limit)
        except _ResponseReplaced:
            pass
        finally:
            del scope[_STATE_KEY]
            if previous is missing:
                scope.pop(MAX_BODY_SIZE_SCOPE_KEY, None)
            else:
                scope[MAX_BODY_SIZE_SCOPE_KEY] = previous


def max_body_size(limit: int | None) -> Callable[[F], F]:
    """Decorate an endpoint (``request`` first argument) to give its route its own body cap.

    ``Route("/upload", max_body_size(50_000_000)(upload))`` — the same as
    ``Route("/upload", upload, max_body_size=50_000_000)``, kept from before Starlette had the
    keyword. It changes the limit of an enclosing limiter, so it needs one (``App(max_body_size=)``
    or `RequestBodyLimitMiddleware`) to have an effect.
    """
    validate_max_body_size(limit, "max_body_size")

    def decorator(func: F) -> F:
        if is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
                _set_limit(request.scope, limit)
                return await func(request, *args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def sync_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            _set_limit(request.scope, limit)
            return func(request, *args, **kwargs)

        return sync_wrapper  # type: ignore[return-value]

    return decorator
