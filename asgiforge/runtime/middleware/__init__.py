"""`Middleware(cls, *args, **kwargs)`: a middleware class and its options, instantiated later.

Apps and routes take lists of these and build the actual stack once, at start-up, wrapping the
inner app: `cls(app, *args, **kwargs)`. Unpacks as `cls, args, kwargs`, like Starlette's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["Middleware"]


class Middleware:
    """A deferred middleware: the class plus the arguments to build it with."""

    __slots__ = ("args", "cls", "kwargs")

    def __init__(self, cls: Any, *args: Any, **kwargs: Any) -> None:
        if not callable(cls):
            raise TypeError(
                f"Middleware needs a middleware class (or factory) as first argument, got {cls!r}."
            )
        self.cls = cls
        self.args = args
        self.kwargs = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))

    def __repr__(self) -> str:
        name = getattr(self.cls, "__name__", repr(self.cls))
        options = [repr(arg) for arg in self.args]
        options += [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"{type(self).__name__}({', '.join([name, *options])})"
