"""Options of the multi-worker master (`asgiforge serve`), validated once when built.

The CLI builds one `ServeOptions`; the master and every worker read it. Validation lives here
(and in `HTTPOptions` / `HeadLimits` for their fields), not in typer callbacks, so a bad value is
the same one-line `UsageError` whether the options come from the command line, the environment
or a library caller.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from asgiforge.errors import UsageError
from asgiforge.server.options import AppTarget, HTTPOptions, at_least_one, positive
from asgiforge.server.sockets import BindAddress


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Everything `serve` needs: what to run, where to listen, and how to supervise workers."""

    target: AppTarget
    binds: tuple[BindAddress, ...]
    http: HTTPOptions = field(default_factory=HTTPOptions)
    # None: one per CPU (see `worker_count`), what `serve` does without -w or WEB_CONCURRENCY.
    workers: int | None = 1
    # Seconds a worker's event loop may stay silent before it is killed and replaced.
    timeout: float = 30.0
    # Seconds in-flight requests get to finish on shutdown or when a worker is drained.
    graceful_timeout: float = 30.0
    max_requests: int | None = None
    max_requests_jitter: int = 0
    max_worker_memory_mb: float | None = None
    pid_file: Path | None = None

    def __post_init__(self) -> None:
        at_least_one("--workers", self.workers)
        if not self.binds:
            raise UsageError("nothing to listen on: give --host/--port, --bind or --fd")
        positive("--timeout", self.timeout)
        if self.graceful_timeout < 0:
            raise UsageError(
                f"--graceful-timeout cannot be negative (got {self.graceful_timeout:g})"
            )
        at_least_one("--max-requests", self.max_requests)
        if self.max_requests_jitter < 0:
            raise UsageError(
                f"--max-requests-jitter cannot be negative (got {self.max_requests_jitter})"
            )
        positive("--max-worker-memory", self.max_worker_memory_mb)

    @property
    def worker_count(self) -> int:
        """`workers`, or one per CPU when it was left unset."""
        return self.workers if self.workers is not None else (os.cpu_count() or 1)

    @property
    def heartbeat_interval(self) -> float:
        """How often a worker's loop reports in: often enough to be seen well within `timeout`."""
        return min(1.0, self.timeout / 4)
