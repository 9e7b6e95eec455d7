"""HTTPSRedirectMiddleware: send plain ``http``/``ws`` requests to ``https``/``wss``.

The Location is built from the Host header only after it passed the same strict parser as
TrustedHostMiddleware; a malformed or missing Host falls back to the address the server is bound
to, so a client can never steer the redirect to another site (``Host: evil.com/x`` or
``Host: @evil.com`` never reach the Location).
"""

from __future__ import annotations

from urllib.parse import quote

from asgiforge.runtime.middleware.trustedhost import parse_host
from asgiforge.runtime.types import ASGIApp, Receive, Scope, Send

__all__ = ["HTTPSRedirectMiddleware"]

_SECURE = {"http": "https", "ws": "wss"}
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"


class HTTPSRedirectMiddleware:
    """Redirect (307, method and body preserved) every insecure request to its secure URL.

    Default ports (80, 443) are dropped from the new URL; any other explicit port is kept, as in
    Starlette. WebSockets are redirected with a denial response where the server supports the
    ``websocket.http.response`` extension, otherwise closed with 1008.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("scheme") not in _SECURE:
            await self.app(scope, receive, send)
            return
        location = self._location(scope)
        if location is None:
            await _send(scope, send, 400, [], b"Invalid host header")
            return
        await _send(scope, send, 307, [(b"location", location.encode("latin-1"))], b"")

    @staticmethod
    def _location(scope: Scope) -> str | None:
        raw_host = None
        for key, value in scope["headers"]:
            if key == b"host":
                raw_host = value.decode("latin-1")
                break
        parsed = parse_host(raw_host) if raw_host is not None else None
        if parsed is None:
            server = scope.get("server")
            if not server or server[0] is None:
                return None
            parsed = parse_host(str(server[0]) if ":" not in str(server[0]) else f"[{server[0]}]")
            if parsed is None:
                return None
            parsed = (parsed[0], server[1])
        host, port = parsed
        netloc = host if port in (None, 80, 443) else f"{host}:{port}"
        # scope["path"] already includes root_path (ASGI spec; uvicorn and Mount both do so).
        path = quote(scope["path"], safe=_SAFE_PATH)
        if not path.startswith("/"):
            path = "/" + path
        location = f"{_SECURE[scope['scheme']]}://{netloc}{path}"
        query: bytes = scope.get("query_string", b"")
        if query:
            location += "?" + quote(query.decode("latin-1"), safe=_SAFE_PATH + "?=&")
        return location


async def _send(
    scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    if scope["type"] == "websocket":
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008, "reason": "Use wss://"})
            return
        prefix = "websocket.http.response"
    else:
        prefix = "http.response"
    await send({"type": prefix + ".start", "status": status, "headers": headers})
    await send({"type": prefix + ".body", "body": body})
