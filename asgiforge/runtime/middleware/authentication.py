"""AuthenticationMiddleware: run an AuthenticationBackend once per request or websocket.

The result lands in ``scope["auth"]`` and ``scope["user"]`` (``request.auth`` /
``request.user``); a client with no credentials gets empty credentials and an
`UnauthenticatedUser`, so endpoints never have to test for a missing user. A backend that raises
`AuthenticationError` gets `on_error`'s response (400 with the message by default); a websocket
is closed with 1008 (policy violation) instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiforge.runtime.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    UnauthenticatedUser,
)
from asgiforge.runtime.types import ASGIApp, Receive, Scope, Send

__all__ = ["AuthenticationMiddleware"]


def _reason(exc: Exception) -> str:
    """A close reason must fit in 123 UTF-8 bytes."""
    return str(exc).encode("utf-8")[:120].decode("utf-8", "ignore")


class AuthenticationMiddleware:
    """Starlette's AuthenticationMiddleware(app, backend, on_error=None)."""

    def __init__(
        self,
        app: ASGIApp,
        backend: AuthenticationBackend,
        on_error: Callable[[Any, AuthenticationError], Any] | None = None,
    ) -> None:
        if not callable(getattr(backend, "authenticate", None)):
            raise TypeError(
                f"AuthenticationMiddleware backend must have an async authenticate(conn) "
                f"method, got {backend!r}"
            )
        from asgiforge.runtime.requests import HTTPConnection

        self.app = app
        self.backend = backend
        self.on_error: Callable[[Any, AuthenticationError], Any] = (
            on_error if on_error is not None else self.default_on_error
        )
        self._connection = HTTPConnection

    @staticmethod
    def default_on_error(conn: Any, exc: Exception) -> Any:
        """400 with the error text; a subclass may override it (Starlette's hook)."""
        from asgiforge.runtime.responses import PlainTextResponse

        return PlainTextResponse(str(exc), status_code=400)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = self._connection(scope)
        try:
            result = await self.backend.authenticate(conn)
        except AuthenticationError as exc:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": _reason(exc)})
                return
            response = self.on_error(conn, exc)
            await response(scope, receive, send)
            return
        if result is None:
            result = AuthCredentials(), UnauthenticatedUser()
        scope["auth"], scope["user"] = result
        await self.app(scope, receive, send)
