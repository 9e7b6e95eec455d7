"""Options shared by every process model, as small frozen dataclasses.

Each parameter list is written once: the CLI builds these, supervisors pass them to workers, and
`uvicorn_kwargs()` is the single place they turn into uvicorn settings. Each dataclass checks its
own fields when built, so a bad value is the same one-line error whether it comes from the command
line, the environment or a library caller; the CLI takes its defaults from here (`field_default`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asgiforge.errors import ServeError, UsageError

LOOPS = ("auto", "asyncio", "uvloop")
# Client-certificate policies by name (`ssl.CERT_NONE` ... as numbers only in `uvicorn_kwargs`).
SSL_CERT_REQS = ("none", "optional", "required")
HTTP_IMPLEMENTATIONS = ("auto", "h11", "httptools")
# --access-log-format: uvicorn's line, or JSON lines (`asgiforge.server.accesslog`).
ACCESS_LOG_FORMATS = ("text", "json")
# uvicorn's names (and its extra "trace" level) → the numbers `logging` uses.
LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": 5,
}


def field_default(cls: type[Any], name: str) -> Any:
    """The default of dataclass field `name`: how the CLI states each default once, here."""
    for item in dataclasses.fields(cls):
        if item.name == name:
            if item.default is not dataclasses.MISSING:
                return item.default
            if item.default_factory is not dataclasses.MISSING:
                return item.default_factory()
            break
    raise LookupError(f"{cls.__name__}.{name} has no default")


def at_least_one(flag: str, value: int | None) -> None:
    """Refuse a count or size below 1 (None means "no limit" and passes)."""
    if value is not None and value < 1:
        raise UsageError(f"{flag} must be at least 1 (got {value})")


def positive(flag: str, value: float | None) -> None:
    """Refuse a duration or amount that is zero or negative (None means "unset" and passes)."""
    if value is not None and value <= 0:
        raise UsageError(f"{flag} must be positive (got {value:g})")


@dataclass(frozen=True, slots=True)
class AppTarget:
    """Which application to run: an import string such as ``"pkg.app:app"``."""

    import_string: str
    app_dir: Path = Path(".")
    factory: bool = False
    env_file: Path | None = None


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """Bounds on one request (its head, and its body's size and pace); enforced by
    `asgiforge.server.protocols` before the application sees the request (see SECURITY.md)."""

    # Bytes in the request target (path and query): beyond it, 414.
    max_request_line: int = 8 * 1024
    # Bytes in one header line (name and value; a Cookie header included): beyond it, 431.
    max_header_size: int = 16 * 1024
    # Header lines in one request: beyond it, 431.
    max_headers: int = 100
    # Bytes in the whole head: beyond it, 431 (also what h11 may buffer while waiting).
    max_head_size: int = 64 * 1024
    # Seconds a client gets to deliver a complete head, from connecting or from the end of
    # the previous response; a slow or silent client is disconnected after it.
    header_timeout: float = 10.0
    # Bytes of chunk-extension and framing overhead allowed per chunk of a chunked body.
    max_chunk_overhead: int = 4 * 1024
    # Bytes in one request body, declared (Content-Length: 413 before the app runs) or
    # streamed (chunked: 413 and the connection closed once it passes); None: no limit.
    max_body_size: int | None = 100 * 1024 * 1024
    # Seconds a request body may make no progress (no byte arrives while the server is ready
    # to read one) before the client gets 408 and the connection is closed.
    body_timeout: float = 30.0

    def __post_init__(self) -> None:
        at_least_one("--limit-request-line", self.max_request_line)
        at_least_one("--limit-request-fields", self.max_headers)
        at_least_one("--limit-request-field-size", self.max_header_size)
        positive("--header-timeout", self.header_timeout)
        at_least_one("--limit-request-body", self.max_body_size)
        positive("--body-timeout", self.body_timeout)


@dataclass(frozen=True, slots=True)
class HTTPOptions:
    """Per-worker HTTP server settings (uvicorn's), identical for `dev` and `serve`."""

    loop: str = "auto"
    http: str = "auto"
    ws: str = "auto"
    # None: on (auto); False (`--no-proxy-headers`): every proxy header is ignored, even from a
    # peer named in `forwarded_allow_ips`. `asgiforge.server.proxy_headers` reads them.
    proxy_headers: bool | None = None
    # Peers whose proxy headers are believed: comma-separated IPs and CIDR networks, "*" for
    # every peer; None: the loopback addresses (a proxy on this machine), as uvicorn and
    # gunicorn do.
    forwarded_allow_ips: str | None = None
    # Also take the host a trusted proxy reports (X-Forwarded-Host, Forwarded host=): opt-in,
    # as a proxy that does not set it passes the client's own value through.
    forwarded_host: bool = False
    root_path: str = ""
    limit_concurrency: int | None = None
    access_log: bool = True
    # "text": uvicorn's access line; "json": one JSON object per request on stdout, with the
    # duration, bytes and a request id (`asgiforge.server.accesslog`).
    access_log_format: str = "text"
    log_level: str = "info"
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # The key's password: from the environment or a file only, never a command-line value
    # (other users can read a process's arguments).
    ssl_keyfile_password: str | None = field(default=None, repr=False)
    # Client certificates: the CAs that sign them and whether one is asked for or required.
    ssl_ca_certs: str | None = None
    ssl_cert_reqs: str = "none"
    # OpenSSL cipher list; uvicorn's default.
    ssl_ciphers: str = "TLSv1"
    timeout_keep_alive: int = 5
    # 1 MiB, the `websockets` library's own default: uvicorn's 16 MiB, times its queue of 32
    # messages, let one connection pin 512 MiB.
    ws_max_size: int = 1024 * 1024
    # Bytes of our WebSocket output a client may leave unread before we stop reading from it
    # (pongs to a ping flood, messages to a client that does not read).
    ws_max_unread: int = 256 * 1024
    # Request-head bounds and the header-read deadline (SECURITY.md has the reasoning).
    limits: HeadLimits = field(default_factory=HeadLimits)

    def __post_init__(self) -> None:
        if self.loop not in LOOPS:
            raise UsageError(f"--loop must be one of {', '.join(LOOPS)} (got {self.loop!r})")
        if self.http not in HTTP_IMPLEMENTATIONS:
            choices = ", ".join(HTTP_IMPLEMENTATIONS)
            raise UsageError(f"--http must be one of {choices} (got {self.http!r})")
        if self.log_level.lower() not in LOG_LEVELS:
            choices = ", ".join(LOG_LEVELS)
            raise UsageError(f"--log-level must be one of {choices} (got {self.log_level!r})")
        # uvicorn only knows the lower-case names; frozen, so set through object.
        object.__setattr__(self, "log_level", self.log_level.lower())
        if self.access_log_format not in ACCESS_LOG_FORMATS:
            choices = ", ".join(ACCESS_LOG_FORMATS)
            raise UsageError(
                f"--access-log-format must be one of {choices} (got {self.access_log_format!r})"
            )
        self._check_tls()
        at_least_one("--ws-max-size", self.ws_max_size)
        at_least_one("--ws-max-unread", self.ws_max_unread)
        at_least_one("--timeout-keep-alive", self.timeout_keep_alive)
        at_least_one("--limit-concurrency", self.limit_concurrency)
        if self.forwarded_allow_ips is not None:
            from asgiforge.server.proxy_headers import parse_trusted

            try:
                parse_trusted(self.forwarded_allow_ips)
            except ValueError as exc:
                raise UsageError(f"--forwarded-allow-ips: {exc}") from None

    def _check_tls(self) -> None:
        """The TLS settings that can be checked without reading the files (`server.tls` does)."""
        tls_files = (
            ("--ssl-certfile", self.ssl_certfile),
            ("--ssl-keyfile", self.ssl_keyfile),
            ("--ssl-ca-certs", self.ssl_ca_certs),
        )
        for flag, path in tls_files:
            if path is not None and not os.access(path, os.R_OK):
                raise ServeError(f"cannot read {flag} {path}")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise UsageError("--ssl-keyfile needs --ssl-certfile")
        if self.ssl_cert_reqs not in SSL_CERT_REQS:
            choices = ", ".join(SSL_CERT_REQS)
            raise UsageError(
                f"--ssl-cert-reqs must be one of {choices} (got {self.ssl_cert_reqs!r})"
            )
        if not self.ssl_certfile:
            needing = (
                ("--ssl-ca-certs", self.ssl_ca_certs),
                ("--ssl-cert-reqs", self.ssl_cert_reqs != "none"),
            )
            for what, given in needing:
                if given:
                    raise UsageError(f"{what} needs --ssl-certfile")
        if self.ssl_cert_reqs != "none" and not self.ssl_ca_certs:
            raise UsageError(
                f"--ssl-cert-reqs {self.ssl_cert_reqs} needs --ssl-ca-certs (the CAs that sign "
                "the client certificates)"
            )
        if not self.ssl_ciphers.strip():
            raise UsageError("--ssl-ciphers cannot be empty")

    @property
    def trusted_proxies(self) -> str | None:
        """The trusted-peer list proxy headers are read with (`uvicorn_kwargs`); None when they
        are not read (proxy headers off, or an empty list)."""
        if self.proxy_headers is False:
            return None
        if self.forwarded_allow_ips is None:
            from asgiforge.server.proxy_headers import LOOPBACK

            return LOOPBACK
        return self.forwarded_allow_ips if self.forwarded_allow_ips.strip(" ,") else None

    @property
    def log_level_number(self) -> int:
        """The level for `logging` (uvicorn's ``trace`` is 5)."""
        return LOG_LEVELS[self.log_level]

    def uvicorn_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `uvicorn.Config` (the app and sockets are added by the caller).

        ``http`` is a protocol class, not a name: uvicorn's protocols hardened by
        `asgiforge.server.protocols` (``auto`` picks httptools when installed, else h11).
        """
        import ssl

        from asgiforge.server._uvicorn import bounded_ws_protocol
        from asgiforge.server.protocols import protocol_class
        from asgiforge.server.proxy_headers import ProxyHeaders, ProxyHeadersMiddleware

        # Proxy headers are ours (`server.proxy_headers`, which also knows `Forwarded`): the
        # HTTP protocols rewrite a request's scope when its head holds one, so a request
        # without costs nothing; WebSocket connections run the app behind the middleware.
        # One `ProxyHeaders` (trusted set and caches) per worker, shared by both.
        proxies = None
        if self.trusted_proxies is not None:
            proxies = ProxyHeaders(self.trusted_proxies, self.forwarded_host)
        return {
            "loop": self.loop,
            "http": protocol_class(self.http, self.limits, proxies),
            "h11_max_incomplete_event_size": self.limits.max_head_size,
            "ws": bounded_ws_protocol(
                self.ws,
                self.ws_max_unread,
                None
                if proxies is None
                else functools.partial(ProxyHeadersMiddleware.sharing, proxies=proxies),
            ),
            "proxy_headers": False,
            "forwarded_allow_ips": "",
            "root_path": self.root_path,
            "limit_concurrency": self.limit_concurrency,
            # The JSON format is written by our wrapper (`accesslog.wrap`), not by uvicorn.
            "access_log": self.access_log and self.access_log_format == "text",
            "log_level": self.log_level,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
            "ssl_keyfile_password": self.ssl_keyfile_password,
            "ssl_ca_certs": self.ssl_ca_certs,
            "ssl_cert_reqs": {
                "none": ssl.CERT_NONE,
                "optional": ssl.CERT_OPTIONAL,
                "required": ssl.CERT_REQUIRED,
            }[self.ssl_cert_reqs],
            "ssl_ciphers": self.ssl_ciphers,
            "timeout_keep_alive": self.timeout_keep_alive,
            "ws_max_size": self.ws_max_size,
        }
