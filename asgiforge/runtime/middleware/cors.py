"""CORSMiddleware: answer CORS preflights and decorate simple responses, per the Fetch standard.

Every response that passes through carries ``Vary: Origin`` (merged into one Vary header), and
every preflight, allowed or refused, ``Vary`` on the four request headers a preflight depends on,
so a shared cache never serves one origin's answer to another. Differences from Starlette, both
on the safe side: `allow_origin_regex` must match the whole origin (``fullmatch``), so
``https://.*\\.example\\.com`` does not admit ``https://x.example.com.evil.net``; and
``allow_origins=["*"]`` with ``allow_credentials=True`` is refused at construction (it would make
every site able to read credentialed responses).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from asgiforge.runtime.middleware._vary import merge_vary
from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ALL_METHODS", "SAFELISTED_HEADERS", "CORSMiddleware"]

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY")
SAFELISTED_HEADERS = {"Accept", "Accept-Language", "Content-Language", "Content-Type"}

Headers = list[tuple[bytes, bytes]]


_PREFLIGHT_VARY = (
    b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    b"Access-Control-Request-Private-Network"
)
# Response headers this middleware owns on a simple response: the app's own values are replaced.
_OWNED = frozenset(
    {
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-expose-headers",
    }
)


class CORSMiddleware:
    """Cross-Origin Resource Sharing with Starlette's constructor and defaults."""

    def __init__(
        self,
        app: ASGIApp,
        allow_origins: Sequence[str] = (),
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        allow_private_network: bool = False,
        expose_headers: Sequence[str] = (),
        max_age: int = 600,
    ) -> None:
        for name, value in (
            ("allow_origins", allow_origins),
            ("allow_methods", allow_methods),
            ("allow_headers", allow_headers),
            ("expose_headers", expose_headers),
        ):
            if isinstance(value, str):
                raise TypeError(f"{name} must be a list of strings, not a single string")
        allow_all_origins = "*" in allow_origins
        if allow_all_origins and allow_credentials:
            raise ValueError(
                "CORSMiddleware: allow_origins=['*'] cannot be combined with "
                "allow_credentials=True, because any website could then read responses made "
                "with your users' cookies. List the trusted origins explicitly "
                "(or use allow_origin_regex)."
            )
        self.app = app
        self.allow_all_origins = allow_all_origins
        self.allow_origins = frozenset(allow_origins)
        self.allow_origin_regex = (
            re.compile(allow_origin_regex) if allow_origin_regex is not None else None
        )
        self.allow_methods = ALL_METHODS if "*" in allow_methods else tuple(allow_methods)
        self._allowed_methods = frozenset(m.upper() for m in self.allow_methods)
        self.allow_all_headers = "*" in allow_headers
        # Advertised with the casing the app configured; compared case-insensitively.
        advertised = sorted(SAFELISTED_HEADERS | set(allow_headers))
        self.allow_headers = [h.lower() for h in advertised]
        self._allowed_headers = frozenset(self.allow_headers)
        self.allow_credentials = allow_credentials
        self.allow_private_network = allow_private_network

        # Constant header blocks, encoded once.
        simple: Headers = []
        if allow_all_origins:
            simple.append((b"access-control-allow-origin", b"*"))
        if allow_credentials:
            simple.append((b"access-control-allow-credentials", b"true"))
        if expose_headers:
            simple.append((b"access-control-expose-headers", ", ".join(expose_headers).encode()))
        self._simple_headers = simple

        preflight: Headers = [(b"vary", _PREFLIGHT_VARY)]
        if allow_all_origins:
            preflight.append((b"access-control-allow-origin", b"*"))
        preflight.append((b"access-control-allow-methods", ", ".join(self.allow_methods).encode()))
        preflight.append((b"access-control-max-age", str(max_age).encode()))
        if not self.allow_all_headers:
            preflight.append((b"access-control-allow-headers", ", ".join(advertised).encode()))
        if allow_credentials:
            preflight.append((b"access-control-allow-credentials", b"true"))
        self._preflight_headers = preflight

    def is_allowed_origin(self, origin: str) -> bool:
        """True if responses may be shared with `origin`: listed, ``*``, or a full regex match."""
        if self.allow_all_origins or origin in self.allow_origins:
            return True
        return self.allow_origin_regex is not None and (
            self.allow_origin_regex.fullmatch(origin) is not None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin: bytes | None = None
        request_method: bytes | None = None
        request_headers: bytes | None = None
        private_network = False
        for key, value in scope["headers"]:
            if key == b"origin":
                origin = value
            elif key == b"access-control-request-method":
                request_method = value
            elif key == b"access-control-request-headers":
                request_headers = value
            elif key == b"access-control-request-private-network":
                private_network = True
        if origin is not None and request_method is not None and scope["method"] == "OPTIONS":
            await self._preflight(send, origin, request_method, request_headers, private_network)
            return
        await self.app(scope, receive, self._sender(send, origin))

    async def _preflight(
        self,
        send: Send,
        origin: bytes,
        method: bytes,
        requested: bytes | None,
        private_network: bool,
    ) -> None:
        problems: list[str] = []
        headers = list(self._preflight_headers)
        if not self.is_allowed_origin(origin.decode("latin-1")):
            problems.append("origin")
        elif not self.allow_all_origins:
            headers.append((b"access-control-allow-origin", origin))
        if method.decode("latin-1").upper() not in self._allowed_methods:
            problems.append("method")
        if requested is not None:
            if self.allow_all_headers:
                headers.append((b"access-control-allow-headers", requested))
            else:
                names = requested.decode("latin-1").lower().split(",")
                if any(h.strip() and h.strip() not in self._allowed_headers for h in names):
                    problems.append("headers")
        # Private Network Access: a public page asking to reach this (private) server.
        if private_network:
            if self.allow_private_network:
                headers.append((b"access-control-allow-private-network", b"true"))
            else:
                problems.append("private-network")
        if problems:
            body = ("Disallowed CORS " + ", ".join(problems)).encode()
            await _respond(send, 400, headers, body)
            return
        await _respond(send, 200, headers, b"OK")

    def _sender(self, send: Send, origin: bytes | None) -> Send:
        """The `send` of a non-preflight request: CORS headers for an allowed origin, and
        ``Vary: Origin`` on every response, since whether it carries them depends on Origin."""
        extra: Headers = []
        if origin is not None and self.is_allowed_origin(origin.decode("latin-1")):
            extra = list(self._simple_headers)
            if not self.allow_all_origins:
                extra.append((b"access-control-allow-origin", origin))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: Headers = list(message.get("headers", ()))
                if extra:
                    headers = [(k, v) for k, v in headers if k.lower() not in _OWNED]
                    headers.extend(extra)
                message["headers"] = merge_vary(headers, b"Origin")
            await send(message)

        return send_with_cors


async def _respond(send: Send, status: int, headers: Headers, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *headers,
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
