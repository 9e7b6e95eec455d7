"""Small helpers several runtime modules share."""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from asgiforge.runtime.types import Scope

if TYPE_CHECKING:
    import asyncio

if sys.version_info >= (3, 13):
    _iscoroutinefunction = inspect.iscoroutinefunction
else:  # pragma: no cover - before 3.13 only asyncio's check knows the marker mocks carry

    def _iscoroutinefunction(obj: Any) -> bool:
        """`asyncio.iscoroutinefunction` without importing asyncio (about 50 ms) at start-up.

        Its extra rule is a marker object that lives in `asyncio.coroutines`: while that module
        is not loaded, no function can carry the marker, so the check needs no import.
        """
        if inspect.iscoroutinefunction(obj):
            return True
        coroutines = sys.modules.get("asyncio.coroutines")
        marker = getattr(coroutines, "_is_coroutine", None)
        return marker is not None and getattr(obj, "_is_coroutine", None) is marker


def is_async_callable(obj: Any) -> bool:
    """True for coroutine functions, partials of them and objects with an async `__call__`.

    Also true for what is marked as one (`inspect.markcoroutinefunction`, and an autospec mock
    of an async function), so a mocked async dependency is awaited like the real one.
    """
    while isinstance(obj, functools.partial):
        obj = obj.func
    return _iscoroutinefunction(obj) or (
        callable(obj) and _iscoroutinefunction(getattr(obj, "__call__", None))  # noqa: B004
    )


def current_asyncio_task() -> asyncio.Task[Any] | None:
    """The running asyncio task, or None under another event loop (trio).

    Without importing asyncio: no asyncio loop runs before the module is loaded, and importing
    the runtime (`asgiforge routes`, a trio app) need not pay its 50 ms. Callers that go on to
    use asyncio import it locally, by then a lookup in `sys.modules`.
    """
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.current_task()  # type: ignore[no-any-return]
    except RuntimeError:
        return None


def get_route_path(scope: Scope) -> str:
    """The path left to route: `path` without the `root_path` prefix the server or a Mount set.

    Starlette's rule, so mounted sub-apps see the same paths under both toolkits.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path:
        return path
    if not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


@contextlib.asynccontextmanager
async def create_collapsing_task_group() -> AsyncIterator[anyio.abc.TaskGroup]:
    """A task group that re-raises a lone failure as itself instead of in an ExceptionGroup.

    Middleware that runs the app next to a helper task wants `except HTTPException:` around it to
    keep working; only when several tasks really failed is the group (all of them) raised.
    """
    try:
        async with anyio.create_task_group() as group:
            yield group
    except BaseExceptionGroup as group_error:
        if len(group_error.exceptions) > 1:
            raise
        only = group_error.exceptions[0]
        # Keep the lone error's own chain rather than chaining it to the group.
        raise only from only.__cause__ or (None if only.__suppress_context__ else only.__context__)
