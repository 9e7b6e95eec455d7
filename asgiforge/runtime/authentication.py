"""Authentication primitives: users, credentials, backends and the `requires` decorator.

`AuthenticationMiddleware` (in ``middleware/authentication.py``) asks a backend who the client
is and stores the answer in ``scope["auth"]`` / ``scope["user"]``; `requires` then guards
endpoints by the scopes in ``request.auth.scopes``. Same names and behaviour as Starlette.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.exceptions import HTTPException

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "BaseUser",
    "SimpleUser",
    "UnauthenticatedUser",
    "has_required_scope",
    "requires",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

# Policy Violation: the close code RFC 6455 reserves for "you may not do this".
_WS_POLICY_VIOLATION = 1008


def has_required_scope(conn: Any, scopes: Sequence[str]) -> bool:
    """True if every one of `scopes` is in ``conn.auth.scopes``."""
    granted = conn.auth.scopes
    return all(scope in granted for scope in scopes)


def requires(
    scopes: str | Sequence[str],
    status_code: int = 403,
    redirect: str | None = None,
) -> Callable[[Callable[_P, Any]], Callable[_P, Any]]:
    """Guard an endpoint: without all `scopes`, raise HTTPException(status_code) or redirect.

    Works on function endpoints and HTTPEndpoint methods, sync or async, whose parameter is
    named ``request`` or ``websocket``. `redirect` is a route name; the client is sent there
    (303) with ``?next=<original URL>``. A websocket without the scopes is closed with 1008
    (policy violation) before it is accepted.
    """
    scopes_list = [scopes] if isinstance(scopes, str) else list(scopes)

    def decorator(func: Callable[_P, Any]) -> Callable[_P, Any]:
        signature = inspect.signature(func)
        for position, parameter in enumerate(signature.parameters.values()):
            if parameter.name in ("request", "websocket"):
                kind = parameter.name
                index = position
                break
        else:
            raise TypeError(
                f'@requires needs a parameter named "request" or "websocket" on {func!r}'
            )

        def connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            conn = kwargs.get(kind, args[index] if index < len(args) else None)
            if conn is None:
                raise TypeError(f"@requires could not find the {kind!r} argument of {func!r}")
            return conn

        def refuse(conn: Any) -> Any:
            if redirect is None:
                raise HTTPException(status_code=status_code)
            from asgiforge.runtime.responses import RedirectResponse

            query = urlencode({"next": str(conn.url)})
            return RedirectResponse(url=f"{conn.url_for(redirect)}?{query}", status_code=303)

        if kind == "websocket":

            @functools.wraps(func)
            async def websocket_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> None:
                websocket = connection(args, kwargs)
                if not has_required_scope(websocket, scopes_list):
                    await websocket.close(code=_WS_POLICY_VIOLATION)
                    return
                await func(*args, **kwargs)

            return websocket_wrapper

        if is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                request = connection(args, kwargs)
                if not has_required_scope(request, scopes_list):
                    return refuse(request)
                return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def sync_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            request = connection(args, kwargs)
            if not has_required_scope(request, scopes_list):
                return refuse(request)
            return func(*args, **kwargs)

        return sync_wrapper

    return decorator


class AuthenticationError(Exception):
    """Raised by a backend for credentials that are present but invalid (→ `on_error`)."""


class AuthenticationBackend:
    """Subclass and implement `authenticate`: return ``(AuthCredentials, user)`` or None."""

    async def authenticate(self, conn: Any) -> tuple[AuthCredentials, BaseUser] | None:
        raise NotImplementedError()


class AuthCredentials:
    """The scopes (permissions) the authenticated client holds."""

    def __init__(self, scopes: Sequence[str] | None = None) -> None:
        self.scopes = [] if scopes is None else list(scopes)


class BaseUser:
    """The interface `request.user` offers; subclass it for your own user model."""

    @property
    def is_authenticated(self) -> bool:
        raise NotImplementedError()

    @property
    def display_name(self) -> str:
        raise NotImplementedError()

    @property
    def identity(self) -> str:
        raise NotImplementedError()


class SimpleUser(BaseUser):
    """An authenticated user known only by name."""

    def __init__(self, username: str) -> None:
        self.username = username

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    @property
    def identity(self) -> str:
        return self.username


class UnauthenticatedUser(BaseUser):
    """The user when the backend recognised no credentials."""

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""

    @property
    def identity(self) -> str:
        return ""
