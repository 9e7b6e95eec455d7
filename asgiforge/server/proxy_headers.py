"""Proxy headers: the client's address and scheme (and, if asked, host) as a trusted proxy saw them.

Behind a TLS-terminating proxy the worker's peer is the proxy and the connection is plain HTTP,
so without this the app builds ``http://`` links into an ``https://`` page and logs the proxy's
address for every client. Only a peer in the trusted set (`--forwarded-allow-ips`) is believed,
because any client can send these headers; a peer on a unix socket is local and trusted, as
gunicorn does. Both the standard ``Forwarded`` header (RFC 7239) and the ``X-Forwarded-*`` family
are read; per field the ``X-Forwarded-*`` value wins when both are present, because the common
proxies (nginx, ingress-nginx, Traefik, cloud load balancers) set those and pass a client's own
``Forwarded`` header through untouched.

The client is the rightmost address that is not a trusted proxy: each proxy appends what it saw,
so everything left of the first untrusted hop was written by the client. Input is parsed from the
right, so a malformed part written by the client never hides the good part a proxy appended; a
malformed hop stops the walk, and a header with nothing usable changes nothing (never a 500).

The host is replaced only with ``forwarded_host`` (``--forwarded-host``): a proxy that does not
set ``X-Forwarded-Host`` itself passes the client's through, and a believed host makes
password-reset links and cached pages point at the attacker's site (Django and Werkzeug make it
opt-in for the same reason).
"""

from __future__ import annotations

import ipaddress
import operator
import re
import socket
from typing import TYPE_CHECKING, Any

from asgiforge.runtime.middleware.trustedhost import parse_host

if TYPE_CHECKING:
    from asgiforge.runtime.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "LOOPBACK",
    "PROXY_NAMES",
    "ProxyHeaders",
    "ProxyHeadersMiddleware",
    "TrustedProxies",
    "parse_node",
    "parse_trusted",
]

# Trusted when the user names no proxy: a loopback peer is a proxy on this very machine.
LOOPBACK = "127.0.0.1,::1"

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# RFC 7239 obfuscated identifiers (a node name or a port): "_" then ALPHA / DIGIT / "." / "_" / "-".
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+")
_PORT = re.compile(r"[0-9]{1,5}")
# RFC 9110 token characters, for parameter names.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# An unquoted value: visible ASCII except '"', ',' and ';' (quotes and the separators).
_BARE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x7e]+")
# The proto values we act on, per scope type: what the app sees as `scope["scheme"]`.
_SCHEMES = {
    "http": {"http": "http", "https": "https", "ws": "http", "wss": "https"},
    "websocket": {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"},
}
# The scopes whose client and scheme are rewritten; the headers `apply` reads, and how to get a
# header's name without a Python-level loop.
_REWRITTEN = frozenset(("http", "websocket"))
PROXY_NAMES = frozenset(
    (b"forwarded", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")
)
_name = operator.itemgetter(0)

_CACHE_LIMIT = 1024
_CACHED_VALUE_LIMIT = 256
_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


def _unmapped(address: _Address) -> _Address:
    """An IPv4 peer on a dual-stack socket shows as ``::ffff:a.b.c.d``: judge it as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_trusted(spec: str) -> tuple[bool, frozenset[_Address], tuple[_Network, ...]]:
    """Parse `--forwarded-allow-ips`: ``(everyone, addresses, networks)``.

    Raises ValueError naming the first entry that is neither ``*``, an IP address nor a CIDR
    network (host names are refused: a proxy is recognised by the address it connects from).
    """
    everyone = False
    addresses: set[_Address] = set()
    networks: list[_Network] = []
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            continue
        if entry == "*":
            everyone = True
            continue
        try:
            if "/" in entry:
                networks.append(ipaddress.ip_network(entry))
            else:
                addresses.add(_unmapped(ipaddress.ip_address(entry)))
        except ValueError as exc:
            raise ValueError(
                f"{entry!r} is not an IP address, a CIDR network or '*' ({exc})"
            ) from None
    return everyone, frozenset(addresses), tuple(networks)


class TrustedProxies:
    """The peers whose proxy headers are believed, parsed once at start-up.

    Membership is asked per request (the peer) and per hop (each forwarded address), so answers
    are cached per instance, and the cache is bounded as hop addresses come from clients.
    """

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.everyone, self._addresses, self._networks = parse_trusted(spec)
        self._known: dict[str, bool] = {str(address): True for address in self._addresses}

    def __contains__(self, host: str) -> bool:
        if self.everyone:
            return True
        known = self._known.get(host)
        if known is not None:
            return known
        try:
            address = _unmapped(ipaddress.ip_address(host))
        except ValueError:
            trusted = False
        else:
            trusted = address in self._addresses or any(
                address in network for network in self._networks
            )
        if len(self._known) >= _CACHE_LIMIT:
            self._known = {str(address): True for address in self._addresses}
        self._known[host] = trusted
        return trusted

    def peer(self, client: Any) -> bool:
        """Whether the connected peer (`scope["client"]`) is a trusted proxy; no address (a
        unix socket) is a local peer."""
        if client is None:
            return True
        return client[0] in self


def parse_node(text: str) -> tuple[str, int] | None:
    """One hop (an X-Forwarded-For entry or a ``for=`` value) → ``(address, port)``.

    The address is an IP in its canonical form, or an identifier the proxy chose to give
    instead (``unknown``, an obfuscated ``_name``); the port is 0 when absent or obfuscated.
    None if the text is none of these.
    """
    bracketed = text.startswith("[")
    port_text: str | None = None
    if bracketed:
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return None
            port_text = rest[1:]
    elif text.count(":") == 1:
        name, _, port_text = text.partition(":")
    else:
        name = text  # IPv4 or an IPv6 without brackets (X-Forwarded-For writes them so)
    port = 0
    if port_text is not None:
        if _PORT.fullmatch(port_text) and int(port_text) <= 65535:
            port = int(port_text)
        elif not _OBFUSCATED.fullmatch(port_text):
            return None
    if not bracketed:
        if name.lower() == "unknown":
            return "unknown", port
        if _OBFUSCATED.fullmatch(name):
            return name, port
    canonical = _canonical_ip(name, bracketed)
    return None if canonical is None else (canonical, port)


def _canonical_ip(text: str, v6: bool) -> str | None:
    """`text` as `ipaddress` would print it (an IPv4-mapped IPv6 as IPv4), None if it is not an
    IP address (IPv6 only when `v6`). The C functions of `socket` do it an order of magnitude
    faster than `ipaddress`, and this runs for every hop of every proxied request."""
    try:
        if v6 or ":" in text:
            packed = socket.inet_pton(socket.AF_INET6, text)
            if packed[:12] == _MAPPED_PREFIX:
                return socket.inet_ntop(socket.AF_INET, packed[12:])
            return socket.inet_ntop(socket.AF_INET6, packed)
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):  # not an address; ValueError: NUL or non-ASCII in it
        return None


def _unquote(value: str) -> str | None:
    """An RFC 7239 value: a bare token-like run or a quoted-string; None if malformed."""
    if value.startswith('"'):
        if len(value) < 2 or not value.endswith('"'):
            return None
        inner = value[1:-1]
        out = []
        escaped = False
        for char in inner:
            if escaped:
                out.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                return None
            else:
                out.append(char)
        return None if escaped else "".join(out)
    return value if _BARE_VALUE.fullmatch(value) else None


def _parse_element(text: str) -> dict[str, str] | None:
    """One ``Forwarded`` element (``for=..;proto=..``) → its parameters, lower-case names;
    None if malformed. Values never contain ``,`` or ``;`` for the parameters we read, so a
    quoted value holding one is malformed here (the split has already cut it)."""
    params: dict[str, str] = {}
    for pair in text.split(";"):
        pair = pair.strip()
        if not pair:
            continue
        name, equals, raw = pair.partition("=")
        if not equals or not _TOKEN.fullmatch(name):
            return None
        value = _unquote(raw)
        name = name.lower()
        if value is None or name in params:
            return None
        params[name] = value
    return params


def _elements(value: str) -> list[str]:
    """The comma-separated parts of a header (its lines joined), empty parts dropped."""
    return [part for part in (piece.strip() for piece in value.split(",")) if part]


# What a `Forwarded` header says, as the proxy that faced the client wrote it: the client
# (address or identifier, port), the proto and the host, each None when not said.
_Said = tuple[tuple[str, int] | None, str | None, str | None]
_NOTHING: _Said = (None, None, None)


class ProxyHeaders:
    """What one worker believes of proxy headers: the trusted peers, whether the host is taken
    too, and what each header value seen so far means.

    The protocols of `asgiforge.server.protocols` call `rewrite` on a request whose head holds
    one of the `PROXY_NAMES` (they spot those in the pass over the head they already make), so
    a request without any costs nothing here; `ProxyHeadersMiddleware` does the same for any
    ASGI app (WebSocket connections get it under the servers). A worker sees the same few
    values again and again (one per client behind the proxy), so their meanings are kept, in
    bounded caches of short values.
    """

    def __init__(self, trusted_hosts: str = LOOPBACK, forwarded_host: bool = False) -> None:
        self.trusted = TrustedProxies(trusted_hosts)
        self.forwarded_host = forwarded_host
        self._clients: dict[str, tuple[str, int] | None] = {}
        self._forwarded: dict[str, _Said] = {}

    def rewrite(self, scope: Scope) -> None:
        """`apply` if the peer is a trusted proxy."""
        if self.trusted.peer(scope.get("client")):
            self.apply(scope)

    def apply(self, scope: Scope) -> None:
        """Rewrite `scope` in place (the server's access log then shows the real client)."""
        forwarded: list[bytes] = []
        xff: list[bytes] = []
        xfp = xfh = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                xff.append(value)
            elif name == b"x-forwarded-proto":
                xfp = value
            elif name == b"forwarded":
                forwarded.append(value)
            elif name == b"x-forwarded-host":
                xfh = value
        if not (forwarded or xff or xfp or xfh):
            return
        said = self._said(b",".join(forwarded).decode("latin-1")) if forwarded else _NOTHING
        # Per field, an X-Forwarded-* header that is present wins, even when unusable.
        client = self._client(b",".join(xff).decode("latin-1")) if xff else said[0]
        if client is not None:
            scope["client"] = client
        proto = _last(xfp.decode("latin-1")) if xfp is not None else said[1]
        if proto is not None:
            scheme = _SCHEMES[scope["type"]].get(proto.lower())
            if scheme is not None:
                scope["scheme"] = scheme
        if self.forwarded_host:
            host = _last(xfh.decode("latin-1")) if xfh is not None else said[2]
            if host is not None:
                _set_host(scope, host)

    def _client(self, value: str) -> tuple[str, int] | None:
        """The rightmost X-Forwarded-For hop that is not a trusted proxy (the leftmost valid
        one when every hop is trusted); None if the rightmost entry is malformed."""
        if value in self._clients:
            return self._clients[value]
        client = None
        for entry in reversed(_elements(value)):
            node = parse_node(entry)
            if node is None:
                break
            client = node
            if not self._trusted_hop(node[0]):
                break
        _remember(self._clients, value, client)
        return client

    def _said(self, value: str) -> _Said:
        """The ``Forwarded`` element written by the proxy that faced the client: walking from
        the right past elements whose ``for`` is a trusted proxy; an element without ``for`` is
        the nearest proxy's own statement and ends the walk."""
        said = self._forwarded.get(value)
        if said is not None:
            return said
        said = _NOTHING
        for text in reversed(_elements(value)):
            element = _parse_element(text)
            if element is None:
                break
            node_text = element.get("for")
            node = parse_node(node_text) if node_text is not None else None
            if node_text is not None and node is None:
                break
            said = (node, element.get("proto"), element.get("host"))
            if node is None or not self._trusted_hop(node[0]):
                break
        _remember(self._forwarded, value, said)
        return said

    def _trusted_hop(self, name: str) -> bool:
        """Whether a hop is a trusted proxy: an identifier (``unknown``, ``_hidden``) hides
        who it is, so it never is, even under ``*``."""
        return name != "unknown" and not name.startswith("_") and name in self.trusted


class ProxyHeadersMiddleware:
    """Pure ASGI: set ``client``, ``scheme`` (and, with `forwarded_host`, the Host header and
    ``server``) from the proxy headers of a trusted peer; every other scope passes untouched.

    Under `asgiforge serve` and `dev` the HTTP protocols rewrite the scope themselves and this
    wraps only what the WebSocket protocols run (`sharing` one `ProxyHeaders` per worker).
    """

    def __init__(
        self, app: ASGIApp, trusted_hosts: str = LOOPBACK, forwarded_host: bool = False
    ) -> None:
        self.app = app
        self.proxies = ProxyHeaders(trusted_hosts, forwarded_host)

    @classmethod
    def sharing(cls, app: ASGIApp, proxies: ProxyHeaders) -> ProxyHeadersMiddleware:
        """A middleware for `app` that uses `proxies` (its trusted set and caches), made per
        WebSocket connection without parsing the trusted set again."""
        middleware = cls.__new__(cls)
        middleware.app = app
        middleware.proxies = proxies
        return middleware

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Cheapest test first: most requests carry no proxy header at all, and that is decided
        # in C (a Python loop over a browser's headers costs about 2 µs a request).
        if scope["type"] in _REWRITTEN and not PROXY_NAMES.isdisjoint(map(_name, scope["headers"])):
            self.proxies.rewrite(scope)
        await self.app(scope, receive, send)


def _remember(cache: dict[str, Any], value: str, meaning: Any) -> None:
    """Keep a short header value's meaning; long ones (rare, and costly to keep) are not kept,
    and a full cache starts over, so a client sending fresh values cannot grow it."""
    if len(value) <= _CACHED_VALUE_LIMIT:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[value] = meaning


def _last(value: str) -> str | None:
    """The rightmost entry of a comma-separated value: what the nearest proxy wrote."""
    entry = value.rpartition(",")[2].strip()
    return entry or None


def _set_host(scope: Scope, host: str) -> None:
    """Replace the Host header and ``server`` with a forwarded host, if it is a valid one."""
    parsed = parse_host(host)
    if parsed is None:
        return
    name, port = parsed
    if port is None:
        port = 443 if scope.get("scheme") in ("https", "wss") else 80
    headers = [(key, value) for key, value in scope["headers"] if key != b"host"]
    headers.insert(0, (b"host", host.encode("latin-1")))
    scope["headers"] = headers
    scope["server"] = (name[1:-1] if name.startswith("[") else name, port)
