"""Options of the multi-worker master (`asgiforge serve`), validated once when built.

The CLI builds one `ServeOptions`; the master and every worker read it. Validation lives here,
not in typer callbacks, so a bad value is the same one-line `UsageError` whether the options come
from the command line, the environment or a library caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from asgiforge.errors import UsageError
from asgiforge.server.options import AppTarget, HTTPOptions
from asgiforge.server.sockets import BindAddress


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Everything `serve` needs: what to run, where to listen, and how to supervise workers."""

    target: AppTarget
    binds: tuple[BindAddress, ...]
    http: HTTPOptions = field(default_factory=HTTPOptions)
    workers: int = 1
    # Seconds a worker's event loop may stay silent before it is killed and replaced.
    timeout: float = 30.0
    # Seconds in-flight requests get to finish on shutdown or when a worker is drained.
    graceful_timeout: float = 30.0
    max_requests: int | None = None
    max_requests_jitter: int = 0
    max_worker_memory_mb: float | None = None
    pid_file: Path | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError(f"--workers must be at least 1 (got {self.workers})")
        if not self.binds:
            raise UsageError("nothing to listen on: give --host/--port, --bind or --fd")
        if self.timeout <= 0:
            raise UsageError(f"--timeout must be positive (got {self.timeout:g})")
        if self.graceful_timeout < 0:
            raise UsageError(
                f"--graceful-timeout cannot be negative (got {self.graceful_timeout:g})"
            )
        if self.max_requests is not None and self.max_requests < 1:
            raise UsageError(f"--max-requests must be at least 1 (got {self.max_requests})")
        if self.max_requests_jitter < 0:
            raise UsageError(
                f"--max-requests-jitter cannot be negative (got {self.max_requests_jitter})"
            )
        if self.max_worker_memory_mb is not None and self.max_worker_memory_mb <= 0:
            raise UsageError(
                f"--max-worker-memory must be positive (got {self.max_worker_memory_mb:g})"
            )
        if bool(self.http.ssl_keyfile) and not self.http.ssl_certfile:
            raise UsageError("--ssl-keyfile needs --ssl-certfile")
        limits = self.http.limits
        for flag, value in (
            ("--limit-request-line", limits.max_request_line),
            ("--limit-request-fields", limits.max_headers),
            ("--limit-request-field-size", limits.max_header_size),
            ("--ws-max-size", self.http.ws_max_size),
        ):
            if value < 1:
                raise UsageError(f"{flag} must be at least 1 (got {value})")
        if limits.header_timeout <= 0:
            raise UsageError(f"--header-timeout must be positive (got {limits.header_timeout:g})")
        if self.http.timeout_keep_alive < 1:
            raise UsageError(
                f"--timeout-keep-alive must be at least 1 (got {self.http.timeout_keep_alive})"
            )
        if self.http.limit_concurrency is not None and self.http.limit_concurrency < 1:
            raise UsageError(
                f"--limit-concurrency must be at least 1 (got {self.http.limit_concurrency})"
            )

    @property
    def heartbeat_interval(self) -> float:
        """How often a worker's loop reports in: often enough to be seen well within `timeout`."""
        return min(1.0, self.timeout / 4)
