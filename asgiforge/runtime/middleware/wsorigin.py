"""WebSocketOriginMiddleware: refuse cross-site WebSocket handshakes (not in Starlette).

Browsers apply no same-origin policy to WebSockets: any page a user visits may open
``new WebSocket("wss://your-app/ws")`` and the browser attaches the user's cookies. CORS does not
help, because the handshake is never a CORS request. The only defence on the server is to check
the ``Origin`` header that browsers always send on a handshake, which is what this middleware
does, before the application sees the connection.

* An origin listed in `allowed_origins` (exact ``scheme://host[:port]``, compared
  case-insensitively) or fully matching `allow_origin_regex` is accepted.
* With `allow_same_origin` (the default) an origin whose ``host[:port]`` equals the request's
  own Host header is accepted too, so an app served from one origin works without listing it.
  The Host is parsed strictly first (a hostile Host never makes a foreign origin "same").
* A handshake without ``Origin`` comes from a non-browser client (which could forge any header
  anyway); it is accepted unless `allow_missing_origin=False`.
* Everything else is refused with 403: as an HTTP response where the server supports the
  ``websocket.http.response`` extension, else by closing before ``accept`` (servers answer that
  with 403 too). HTTP requests and other scope types pass straight through.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from asgiforge.runtime.middleware.trustedhost import parse_host
from asgiforge.runtime.types import ASGIApp, Receive, Scope, Send

__all__ = ["WebSocketOriginMiddleware"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_BODY = b"Cross-origin WebSocket handshake refused"


def _origin_key(origin: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an ``Origin`` value, default ports made explicit; None if bad."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


class WebSocketOriginMiddleware:
    """Accept a WebSocket handshake only from an allowed (or the same) origin."""

    def __init__(
        self,
        app: ASGIApp,
        allowed_origins: Sequence[str] = (),
        allow_origin_regex: str | None = None,
        allow_same_origin: bool = True,
        allow_missing_origin: bool = True,
    ) -> None:
        if isinstance(allowed_origins, str):
            raise TypeError("allowed_origins must be a list of origins, not a single string")
        keys = set()
        for origin in allowed_origins:
            key = _origin_key(origin)
            if key is None:
                raise ValueError(
                    f"allowed_origins entries must look like 'https://example.com', got {origin!r}"
                )
            keys.add(key)
        self.app = app
        self.allowed = frozenset(keys)
        self.regex = re.compile(allow_origin_regex) if allow_origin_regex is not None else None
        self.allow_same_origin = allow_same_origin
        self.allow_missing_origin = allow_missing_origin

    def is_allowed(self, origin: str | None, host: str | None) -> bool:
        """The decision for one handshake, given its raw ``Origin`` and ``Host`` values."""
        if origin is None:
            return self.allow_missing_origin
        if self.regex is not None and self.regex.fullmatch(origin):
            return True
        key = _origin_key(origin)
        if key is None:
            return False  # includes the literal "null" of sandboxed frames and file:// pages
        if key in self.allowed:
            return True
        if self.allow_same_origin and host is not None:
            parsed = parse_host(host)
            if parsed is not None:
                name, port = parsed
                # Host carries no scheme: the origin's own default port stands in for a bare Host.
                return (name, port or _DEFAULT_PORTS[key[0]]) == key[1:]
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        origin: str | None = None
        host: str | None = None
        for name, value in scope["headers"]:
            if name == b"origin" and origin is None:
                origin = value.decode("latin-1")
            elif name == b"host" and host is None:
                host = value.decode("latin-1")
        if self.is_allowed(origin, host):
            await self.app(scope, receive, send)
            return
        await receive()  # the websocket.connect message
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(_BODY)).encode()),
                    ],
                }
            )
            await send({"type": "websocket.http.response.body", "body": _BODY})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
