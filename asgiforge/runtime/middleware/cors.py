"""CORSMiddleware: answer CORS preflights and decorate simple responses, per the Fetch standard.

Differences from Starlette, all on the safe side: `allow_origin_regex` must match the whole
origin (``fullmatch``), so ``https://.*\\.example\\.com`` does not admit
``https://x.example.com.evil.net``; ``allow_origins=["*"]`` with ``allow_credentials=True`` is
refused at construction (it would make every site able to read credentialed responses); and a
refused preflight gets a bare 400 that carries no ``Access-Control-*`` header at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ALL_METHODS", "SAFELISTED_HEADERS", "CORSMiddleware"]

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
SAFELISTED_HEADERS = {"Accept", "Accept-Language", "Content-Language", "Content-Type"}

Headers = list[tuple[bytes, bytes]]


def _add_vary(headers: Headers, token: bytes) -> None:
    """Add `token` to the response's Vary header, merging with one the app already set."""
    for index, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            existing = [part.strip().lower() for part in value.split(b",")]
            if token.lower() not in existing and b"*" not in existing:
                headers[index] = (key, value + b", " + token)
            return
    headers.append((b"vary", token))


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
        self.allow_headers = sorted(
            {h.lower() for h in SAFELISTED_HEADERS} | {h.lower() for h in allow_headers}
        )
        self._allowed_headers = frozenset(self.allow_headers)
        self.allow_credentials = allow_credentials
        self.allow_private_network = allow_private_network

        # Constant header blocks, encoded once.
        simple: Headers = []
        if allow_credentials:
            simple.append((b"access-control-allow-credentials", b"true"))
        if expose_headers:
            simple.append((b"access-control-expose-headers", ", ".join(expose_headers).encode()))
        self._simple_headers = simple

        preflight: Headers = [
            (b"access-control-allow-methods", ", ".join(self.allow_methods).encode()),
            (b"access-control-max-age", str(max_age).encode()),
        ]
        if self.allow_headers and not self.allow_all_headers:
            preflight.append(
                (b"access-control-allow-headers", ", ".join(self.allow_headers).encode())
            )
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
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and request_method is not None:
            await self._preflight(send, origin, request_method, request_headers, private_network)
            return
        await self._simple(scope, receive, send, origin)

    async def _preflight(
        self,
        send: Send,
        origin: bytes,
        method: bytes,
        requested: bytes | None,
        private_network: bool,
    ) -> None:
        problems: list[str] = []
        origin_text = origin.decode("latin-1")
        if not self.is_allowed_origin(origin_text):
            problems.append("origin")
        if method.decode("latin-1").upper() not in self._allowed_methods:
            problems.append("method")
        requested_list: list[str] = []
        if requested is not None:
            requested_list = [
                h.strip().lower() for h in requested.decode("latin-1").split(",") if h.strip()
            ]
            if not self.allow_all_headers and any(
                h not in self._allowed_headers for h in requested_list
            ):
                problems.append("headers")
        # Private Network Access: a public page asking to reach this (private) server.
        if private_network and not self.allow_private_network:
            problems.append("private-network")
        if problems:
            body = ("Disallowed CORS " + ", ".join(problems)).encode()
            await _respond(send, 400, [(b"vary", b"Origin")], body)
            return
        headers = list(self._preflight_headers)
        if self.allow_all_origins:
            headers.append((b"access-control-allow-origin", b"*"))
        else:
            headers.append((b"access-control-allow-origin", origin))
            headers.append((b"vary", b"Origin"))
        if private_network:
            headers.append((b"access-control-allow-private-network", b"true"))
        if self.allow_all_headers and requested_list:
            headers.append((b"access-control-allow-headers", ", ".join(requested_list).encode()))
        await _respond(send, 200, headers, b"OK")

    async def _simple(self, scope: Scope, receive: Receive, send: Send, origin: bytes) -> None:
        if not self.is_allowed_origin(origin.decode("latin-1")):
            # Not ours to share: the browser will block it; we add nothing.
            await self.app(scope, receive, send)
            return
        extra = self._simple_headers
        echo = not self.allow_all_origins

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: Headers = [
                    (k, v)
                    for k, v in message.get("headers", ())
                    if k.lower() != b"access-control-allow-origin"
                ]
                headers.extend(extra)
                if echo:
                    headers.append((b"access-control-allow-origin", origin))
                    _add_vary(headers, b"Origin")
                else:
                    headers.append((b"access-control-allow-origin", b"*"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cors)


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
