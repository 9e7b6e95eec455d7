"""Run blocking code without blocking the event loop.

Sync endpoints, sync background tasks, sync iterators given to a StreamingResponse and file
reads all go through here, so one place decides how blocking work is offloaded. AnyIO's worker
threads are used so the same code runs on asyncio and trio.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.to_thread

from asgiforge.runtime.exceptions import StarletteDeprecationWarning

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["iterate_in_threadpool", "run_in_threadpool", "run_until_first_complete"]


async def run_in_threadpool(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `func(*args, **kwargs)` in AnyIO's worker thread pool and return its result.

    Keyword arguments are bound with `functools.partial` because AnyIO's `run_sync` only
    forwards positional ones.
    """
    if kwargs:
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))
    return await anyio.to_thread.run_sync(func, *args)


class _StopIteration(Exception):
    """Carries exhaustion out of the worker thread.

    A bare `StopIteration` cannot cross into a coroutine (PEP 479 turns it into a RuntimeError),
    so the worker raises this instead.
    """


def _next(iterator: Iterator[T]) -> T:
    try:
        return next(iterator)
    except StopIteration:
        raise _StopIteration from None


async def iterate_in_threadpool(iterator: Iterable[T]) -> AsyncIterator[T]:
    """Turn a blocking iterable into an async iterator; each `next()` runs in a worker thread.

    Each step is offloaded separately, so a slow generator (reading a file, querying a
    database) never stalls other requests between items.
    """
    as_iterator = iter(iterator)
    while True:
        try:
            yield await anyio.to_thread.run_sync(_next, as_iterator)
        except _StopIteration:
            break


async def run_until_first_complete(
    *args: tuple[Callable[..., Awaitable[Any]], dict[str, Any]],
) -> None:
    """Run each `(func, kwargs)` concurrently; when the first returns, cancel the others.

    Deprecated (as in Starlette, which still exports it): frameworks re-export it, so it exists
    for them, and warns so their users move to an explicit task group.
    """
    warnings.warn(
        "run_until_first_complete is deprecated and will be removed in a future version.",
        StarletteDeprecationWarning,
        stacklevel=2,
    )
    async with anyio.create_task_group() as group:

        async def first_wins(func: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> None:
            await func(**kwargs)
            group.cancel_scope.cancel()

        for func, kwargs in args:
            group.start_soon(first_wins, func, kwargs)
