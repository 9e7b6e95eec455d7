"""TrustedHostMiddleware: refuse requests whose Host header names a host we do not serve.

Host-header attacks (poisoned password-reset links, cache poisoning) rely on a server echoing a
Host it never meant to answer for. Starlette only splits on ``:``, so ``allowed.com:1@evil.com``
or ``evil.com/.example.com`` could slip past a wildcard; here the header must first be a
syntactically valid ``host[:port]`` (RFC 3986 reg-name or bracketed IPv6) before any pattern is
compared, and anything else is a 400.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import quote

from asgiforge.runtime.types import ASGIApp, Receive, Scope, Send

__all__ = ["ENFORCE_DOMAIN_WILDCARD", "TrustedHostMiddleware", "parse_host"]

ENFORCE_DOMAIN_WILDCARD = "Domain wildcard patterns must be like '*.example.com'."

# A DNS-style name (letters, digits, '-', '_' inside labels; optional trailing dot), a bracketed
# IPv6 literal (checked by `ipaddress` below) or IPvFuture literal (RFC 3986 ``[v1.x]``), then an
# optional numeric port (RFC 3986: any number of digits). Nothing else: no '@', '/', '?', '\\',
# spaces or percent-escapes can appear in a host we accept.
_HOST_RE = re.compile(
    r"(?P<host>"
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.?"
    r"|\[(?P<ipv6>[0-9a-f:.]{2,45})\]"
    r"|\[v[0-9a-f]+\.[a-z0-9._~!$&'()*+,;=:-]+\]"
    r")(?::(?P<port>[0-9]+))?",
    re.IGNORECASE,
)

_BAD_HOST_BODY = b"Invalid host header"


def parse_host(value: str, *, any_port: bool = False) -> tuple[str, int | None] | None:
    """Split a Host header into (lower-cased host, port), or None if it is not a valid host.

    Shared with HTTPSRedirectMiddleware so that a redirect never copies a hostile Host into a
    Location header. A port above 65535 makes the header invalid unless `any_port` is set:
    TrustedHostMiddleware only judges the host name, as Starlette does, whereas a redirect
    must not build a URL with an impossible port.
    """
    if len(value) > 300:
        return None
    match = _HOST_RE.fullmatch(value)
    if match is None:
        return None
    ipv6 = match.group("ipv6")
    if ipv6 is not None:
        try:
            ipaddress.IPv6Address(ipv6)
        except ValueError:
            return None
    port_text = match.group("port")
    port = int(port_text) if port_text is not None else None
    if port is not None and port > 65535 and not any_port:
        return None
    host = match.group("host").lower()
    if host.endswith(".") and not host.startswith("["):
        host = host[:-1]
    return host, port


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class TrustedHostMiddleware:
    """Answer 400 unless the Host header matches one of `allowed_hosts`.

    Patterns are exact names or ``*.example.com`` (any subdomain, not the bare domain); ``"*"``
    allows everything, which is the default as in Starlette. With `www_redirect`, a request for
    ``example.com`` when only ``www.example.com`` is allowed is redirected there instead.
    """

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Sequence[str] | None = None,
        www_redirect: bool = True,
    ) -> None:
        if allowed_hosts is None:
            allowed_hosts = ["*"]
        if isinstance(allowed_hosts, str):
            raise TypeError("allowed_hosts must be a list of host names, not a single string")
        exact: set[str] = set()
        suffixes: list[str] = []
        for pattern in allowed_hosts:
            lowered = pattern.lower()
            if lowered == "*":
                continue
            if "*" in lowered:
                if not lowered.startswith("*.") or "*" in lowered[2:]:
                    raise ValueError(f"{ENFORCE_DOMAIN_WILDCARD} Got {pattern!r}.")
                suffixes.append(lowered[1:])
            else:
                exact.add(lowered)
        self.app = app
        self.allowed_hosts = list(allowed_hosts)
        self.allow_any = "*" in allowed_hosts
        self.www_redirect = www_redirect
        # Precomputed so the per-request check is a set lookup plus a short suffix scan.
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)

    def _is_allowed(self, host: str) -> bool:
        return host in self._exact or host.endswith(self._suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        raw = _header(scope, b"host")
        parsed = parse_host(raw, any_port=True) if raw is not None else None
        if parsed is not None:
            host = parsed[0]
            if self._is_allowed(host):
                await self.app(scope, receive, send)
                return
            if self.www_redirect and not host.startswith("www.") and ("www." + host) in self._exact:
                await self._redirect_to_www(scope, send, raw or "")
                return
        await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "Invalid host header"})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(_BAD_HOST_BODY)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _BAD_HOST_BODY})

    async def _redirect_to_www(self, scope: Scope, send: Send, raw_host: str) -> None:
        # raw_host passed parse_host, so it is safe to echo back with the "www." prefix.
        scheme = scope.get("scheme", "http")
        path = quote(scope.get("root_path", "") + scope["path"], safe="/:@!$&'()*+,;=-._~%")
        query = scope.get("query_string", b"")
        location = f"{scheme}://www.{raw_host.lower()}{path}"
        if query:
            location += "?" + query.decode("latin-1")
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "Use the www host"})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 307,
                "headers": [
                    (b"location", location.encode("latin-1", "replace")),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
