"""asgiforge.runtime: a Starlette-compatible ASGI toolkit.

Its public API is Starlette's, under Starlette's module names; `App` is the application class.
Names are resolved lazily so that importing the package costs nothing until something is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asgiforge.runtime.applications import App

__all__ = ["App"]


def __getattr__(name: str) -> Any:
    if name == "App":
        from asgiforge.runtime.applications import App

        return App
    raise AttributeError(f"module 'asgiforge.runtime' has no attribute {name!r}")
