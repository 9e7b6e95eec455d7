"""What a route says about itself, for `asgiforge routes` and other introspection.

Each route class implements ``describe(prefix, host)`` yielding these records, so callers never
need an isinstance chain over route types.
"""

from __future__ import annotations

import inspect
import linecache
import re
from dataclasses import dataclass, field
from typing import Any, Literal

RouteKind = Literal["http", "websocket", "mount", "static", "asgi", "host"]


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One row of the routing table; `path` is the full path with mounts flattened."""

    kind: RouteKind
    path: str
    name: str | None = None
    methods: tuple[str, ...] = ()
    endpoint: str | None = None
    file: str | None = None
    line: int | None = None
    host: str | None = None
    # The raw path of this route relative to its parent, for shadowing checks.
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def describe_callable(obj: Any) -> tuple[str | None, str | None, int | None]:
    """Return (qualified name, source file, first line) of an endpoint or app, best effort."""
    target = obj
    # Peel decorators (`__wrapped__`) and partials (`.func`) in any interleaving until neither
    # applies, so the file and the line both come from the endpoint itself.
    for _ in range(100):
        inner = getattr(target, "__wrapped__", None) or getattr(target, "func", None)
        if inner is None or not callable(inner):
            break
        target = inner
    if not (
        inspect.isfunction(target)
        or inspect.isclass(target)
        or inspect.ismethod(target)
        or inspect.isbuiltin(target)
    ):
        target = type(target)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    name = f"{module}.{qualname}" if module and qualname else qualname
    try:
        file = inspect.getsourcefile(target)
        line = _first_line(target, file) if file else None
    except (OSError, TypeError):
        file, line = None, None
    return name, file, line


def _first_line(target: Any, file: str) -> int | None:
    """The line a function or class starts on, without `inspect.getsourcelines`.

    That call tokenizes a function's whole body and parses a class's whole module (7 ms per
    route, most of `asgiforge routes` on a small app). A function's code object knows its first
    line (the first decorator's, as `getsourcelines` reports); a top-level class is found by
    its `class` statement; anything else falls back to `inspect`.
    """
    code = getattr(target, "__code__", None)
    if code is not None and inspect.isfunction(target):
        return int(code.co_firstlineno)
    qualname = getattr(target, "__qualname__", "")
    if inspect.isclass(target) and qualname.isidentifier():
        statement = re.compile(rf"class\s+{qualname}\b")
        decorators: int | None = None  # where the decorators above the next statement start
        for number, text in enumerate(linecache.getlines(file), start=1):
            if statement.match(text):
                return decorators or number
            if text.startswith("@"):
                decorators = decorators or number
            elif text[:1] not in ("", " ", "\t", "\n", ")", "#"):
                decorators = None  # another top-level statement
    return inspect.getsourcelines(target)[1]
