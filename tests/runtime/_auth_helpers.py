"""A tiny Basic-auth backend and app builder shared by the authentication test modules.

`tests/runtime/test_authentication.py` (users, `requires`) and
`tests/runtime/middleware/test_authentication.py` (the middleware) both drive apps through it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from asgiforge.runtime.applications import App
from asgiforge.runtime.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
)
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.authentication import AuthenticationMiddleware
from asgiforge.runtime.requests import HTTPConnection, Request
from asgiforge.runtime.responses import JSONResponse, Response
from asgiforge.runtime.routing import BaseRoute


class BasicAuth(AuthenticationBackend):
    """`Authorization: Basic user:scope1,scope2`; a malformed header is an error."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            raise AuthenticationError("Invalid basic auth credentials")
        username, _, scopes = base64.b64decode(token).decode().partition(":")
        return AuthCredentials(scopes.split(",") if scopes else []), SimpleUser(username)


def auth(user: str, scopes: str = "") -> dict[str, str]:
    """Headers that `BasicAuth` accepts for `user` with the comma-separated `scopes`."""
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{scopes}".encode()).decode()}


async def whoami(request: Request) -> Response:
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "name": request.user.display_name,
            "scopes": request.auth.scopes,
        }
    )


def on_error(conn: HTTPConnection, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=401)


def auth_app(routes: Sequence[BaseRoute], **options: Any) -> App:
    """An App serving `routes` behind AuthenticationMiddleware(backend=BasicAuth(), **options)."""
    return App(
        routes=list(routes),
        middleware=[Middleware(AuthenticationMiddleware, backend=BasicAuth(), **options)],
    )
