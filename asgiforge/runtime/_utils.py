"""Small helpers several runtime modules share."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from asgiforge.runtime.types import Scope


def is_async_callable(obj: Any) -> bool:
    """True for coroutine functions, partials of them and objects with an async `__call__`."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or (
        callable(obj) and inspect.iscoroutinefunction(getattr(obj, "__call__", None))  # noqa: B004
    )


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
