"""Options shared by every process model, as small frozen dataclasses.

Each parameter list is written once: the CLI builds these, supervisors pass them to workers, and
`uvicorn_kwargs()` is the single place they turn into uvicorn settings.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    ws_max_size: int = 16 * 1024 * 1024

    def uvicorn_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `uvicorn.Config` (the app and sockets are added by the caller)."""
        return {
            "loop": self.loop,
            "http": self.http,
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
