"""Liveness and readiness endpoints for orchestrators (Kubernetes probes, load balancers).

Two questions, deliberately kept apart:

- *liveness* (``/healthz``): is this process able to answer at all? Always 200 while the event
  loop runs. It must not depend on the database: a failing liveness probe restarts the pod,
  which does not fix a database outage and turns it into a restart storm.
- *readiness* (``/readyz``): should traffic be sent here right now? 200 only when every check
  passes, else 503 with the names of the failed checks, so the pod is taken out of rotation
  until its dependencies come back.

Usage::

    from asgiforge.runtime.applications import App
    from asgiforge.runtime.health import health_routes

    async def database() -> bool:
        return await pool.ping()

    app = App(routes=[*health_routes({"database": database}), ...])

Checks are sync or async callables returning a bool; sync ones run in the thread pool (they
typically do blocking I/O), and a check that raises counts as failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.concurrency import run_in_threadpool
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import JSONResponse
from asgiforge.runtime.routing import Route

__all__ = ["Check", "health_routes"]

Check = Callable[[], bool | Awaitable[bool]]

# Probes must never be served from a cache: a stale "ok" hides an outage.
_NO_STORE = {"cache-control": "no-store"}


def health_routes(
    checks: Mapping[str, Check] | Iterable[Check] | None = None,
    *,
    liveness_path: str = "/healthz",
    readiness_path: str = "/readyz",
) -> list[Route]:
    """Return the liveness and readiness routes, to splice into an app's ``routes``.

    `checks` is a mapping of name → check, or an iterable of checks named after their
    ``__name__``. The routes are left out of the OpenAPI schema.
    """
    named = _name_checks(checks)

    async def liveness(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"}, headers=_NO_STORE)

    async def readiness(request: Request) -> JSONResponse:
        failed = [name for name, check in named if not await _passes(check)]
        if failed:
            body: dict[str, Any] = {"status": "unavailable", "failed": failed}
            return JSONResponse(body, status_code=503, headers=_NO_STORE)
        return JSONResponse({"status": "ok"}, headers=_NO_STORE)

    return [
        Route(liveness_path, liveness, name="healthz", include_in_schema=False),
        Route(readiness_path, readiness, name="readyz", include_in_schema=False),
    ]


def _name_checks(checks: Mapping[str, Check] | Iterable[Check] | None) -> list[tuple[str, Check]]:
    """Validate once at construction, so a typo fails at import time rather than in a probe."""
    if checks is None:
        return []
    pairs: list[tuple[str, Check]]
    if isinstance(checks, Mapping):
        pairs = [(str(name), check) for name, check in checks.items()]
    else:
        pairs = [(getattr(check, "__name__", repr(check)), check) for check in checks]
    for name, check in pairs:
        if not callable(check):
            raise TypeError(f"health check {name!r} must be callable, got {check!r}")
    return pairs


async def _passes(check: Check) -> bool:
    try:
        if is_async_callable(check):
            result = await check()  # type: ignore[misc]
        else:
            result = await run_in_threadpool(check)
            if isinstance(result, Awaitable):
                result = await result
    except Exception:
        return False
    return bool(result)
