"""Options shared by every process model, as small frozen dataclasses.

Each parameter list is written once: the CLI builds these, supervisors pass them to workers, and
`uvicorn_kwargs()` is the single place they turn into uvicorn settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class AppTarget:
    """Which application to run: an import string such as ``"pkg.app:app"``."""

    import_string: str
    app_dir: Path = Path(".")
    factory: bool = False
    env_file: Path | None = None


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """Bounds on one request head; enforced by `asgiforge.server.protocols` (see SECURITY.md)."""

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


@dataclass(frozen=True, slots=True)
class HTTPOptions:
    """Per-worker HTTP server settings (uvicorn's), identical for `dev` and `serve`."""

    loop: str = "auto"
    http: str = "auto"
    ws: str = "auto"
    proxy_headers: bool = False
    # None: trust no proxy at all unless the user names one (uvicorn would trust 127.0.0.1).
    forwarded_allow_ips: str | None = None
    root_path: str = ""
    limit_concurrency: int | None = None
    access_log: bool = True
    log_level: str = "info"
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    timeout_keep_alive: int = 5
    # 1 MiB, the `websockets` library's own default: uvicorn's 16 MiB, times its queue of 32
    # messages, let one connection pin 512 MiB.
    ws_max_size: int = 1024 * 1024
    # Request-head bounds and the header-read deadline (SECURITY.md has the reasoning).
    limits: HeadLimits = field(default_factory=HeadLimits)

    def uvicorn_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `uvicorn.Config` (the app and sockets are added by the caller).

        ``http`` is a protocol class, not a name: uvicorn's protocols hardened by
        `asgiforge.server.protocols` (``auto`` picks httptools when installed, else h11).
        """
        from asgiforge.server.protocols import protocol_class

        return {
            "loop": self.loop,
            "http": protocol_class(self.http, self.limits),
            "h11_max_incomplete_event_size": self.limits.max_head_size,
            "ws": self.ws,
            "proxy_headers": self.proxy_headers,
            "forwarded_allow_ips": self.forwarded_allow_ips or "",
            "root_path": self.root_path,
            "limit_concurrency": self.limit_concurrency,
            "access_log": self.access_log,
            "log_level": self.log_level,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
            "timeout_keep_alive": self.timeout_keep_alive,
            "ws_max_size": self.ws_max_size,
        }
