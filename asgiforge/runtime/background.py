"""Work to run after the response has been sent (Starlette's `background=` contract).

The response calls the task once its last body message is out, so the client never waits for
it. Sync callables run in the thread pool so they cannot block the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ParamSpec

from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.concurrency import run_in_threadpool

P = ParamSpec("P")

__all__ = ["BackgroundTask", "BackgroundTasks"]


class BackgroundTask:
    """One call, `func(*args, **kwargs)`, awaited directly or run in a worker thread."""

    def __init__(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        # Decided once here rather than on every call.
        self.is_async = is_async_callable(func)

    async def __call__(self) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
        else:
            await run_in_threadpool(self.func, *self.args, **self.kwargs)


class BackgroundTasks(BackgroundTask):
    """Several tasks run one after another, in the order they were added.

    An exception stops the remaining tasks and propagates, as in Starlette, so failures are not
    silently swallowed.
    """

    def __init__(self, tasks: Sequence[BackgroundTask] | None = None) -> None:
        self.tasks: list[BackgroundTask] = list(tasks) if tasks else []

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue `func(*args, **kwargs)` to run after the earlier tasks."""
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    async def __call__(self) -> None:
        for task in self.tasks:
            await task()
