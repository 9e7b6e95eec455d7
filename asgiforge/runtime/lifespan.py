"""The ASGI lifespan protocol for `Router` (and so for `App`).

A lifespan is `lifespan(app)` returning an async context manager: code before `yield` runs at
start-up, code after it at shutdown. If it yields a mapping, its items go into the server's
lifespan state (`scope["state"]`), which the server copies into every request's scope, so
handlers read them from `request.state`. Async generator functions (and, for old code, plain
generator functions) are accepted as well and wrapped into context managers.

Failures are reported the way servers expect: `lifespan.startup.failed` /
`lifespan.shutdown.failed` carrying the traceback text, and the error is re-raised so the server
logs it and refuses to start.
"""

from __future__ import annotations

import contextlib
import inspect
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from asgiforge.runtime.concurrency import run_in_threadpool
from asgiforge.runtime.types import Receive, Scope, Send

__all__ = ["LifespanHandler", "normalize_lifespan"]

LifespanContext = Callable[[Any], AbstractAsyncContextManager[Mapping[str, Any] | None]]


@contextlib.asynccontextmanager
async def _no_lifespan(app: Any) -> AsyncIterator[None]:
    yield None


def _from_sync_generator(
    func: Callable[[Any], Iterator[Any]],
) -> LifespanContext:
    """Adapt a plain generator function; its blocking steps run in the thread pool."""
    manager = contextlib.contextmanager(func)

    @contextlib.asynccontextmanager
    async def context(app: Any) -> AsyncIterator[Any]:
        cm = manager(app)
        value = await run_in_threadpool(cm.__enter__)
        try:
            yield value
        except BaseException as exc:
            if not await run_in_threadpool(cm.__exit__, type(exc), exc, exc.__traceback__):
                raise
        else:
            await run_in_threadpool(cm.__exit__, None, None, None)

    return context


def normalize_lifespan(lifespan: Callable[[Any], Any] | None) -> LifespanContext:
    """Turn any accepted lifespan form into `app -> async context manager`.

    Done once, when the router is built, so the check for a wrong kind of object happens at
    construction with a clear message rather than when the server starts.
    """
    if lifespan is None:
        return _no_lifespan
    if not callable(lifespan):
        raise TypeError(
            f"lifespan must be a callable taking the app and returning an async context "
            f"manager (e.g. an @asynccontextmanager function), got {lifespan!r}."
        )
    if inspect.isasyncgenfunction(lifespan):
        return contextlib.asynccontextmanager(lifespan)
    if inspect.isgeneratorfunction(lifespan):
        return _from_sync_generator(lifespan)
    return lifespan


class LifespanHandler:
    """Speaks the lifespan protocol around one lifespan context."""

    def __init__(self, lifespan: Callable[[Any], Any] | None) -> None:
        self.context = normalize_lifespan(lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, default_app: Any) -> None:
        """Run start-up, wait for shutdown, run shutdown.

        `default_app` is what the lifespan receives when no App put itself in `scope["app"]`
        (a bare Router).
        """
        app = scope.get("app", default_app)
        started = False
        await receive()  # lifespan.startup
        try:
            manager = self.context(app)
            if not hasattr(manager, "__aenter__"):
                raise TypeError(
                    f"lifespan(app) returned {type(manager).__name__}, not an async context "
                    "manager. Decorate it with @contextlib.asynccontextmanager."
                )
            async with manager as maybe_state:
                if maybe_state is not None:
                    _store_state(scope, maybe_state)
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except Exception:
            text = traceback.format_exc()
            phase = "shutdown" if started else "startup"
            await send({"type": f"lifespan.{phase}.failed", "message": text})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def _store_state(scope: Scope, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"The lifespan yielded {type(value).__name__}; yield a mapping (e.g. a dict) of "
            "state for requests, or nothing."
        )
    state = scope.get("state")
    if state is None:
        raise RuntimeError(
            'The server does not support "state" in the lifespan scope, so the values the '
            "lifespan yielded cannot reach requests. Use a server that supports lifespan state "
            "(uvicorn does)."
        )
    state.update(value)
