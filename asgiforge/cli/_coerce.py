"""Converting plain command-line values without importing pydantic.

Typer converts every parameter value through a pydantic ``TypeAdapter``, built on first use, and
builds it even for a value that needs no conversion (an option left at ``None``, a ``str`` that
is already a ``str``). Importing pydantic and building the adapters is ~0.1 s of every command
that runs (`asgiforge routes` lists its table in about that much more), while asgiforge's own
options are strings, paths, small integers and flags.

`fast_coercion(command)` gives each such parameter a converter that accepts the values whose
conversion is trivial (``None``; a ``str`` for ``str``; a ``str`` for a plain ``Path``; ASCII
digits within the bounds for ``int``, and for ``float`` with an optional decimal part; a ``bool``
for ``bool``; an exact choice of a ``Literal``; a list of such values for ``list[...]``)
and hands every other value to Typer's own converter, built as before. A value this module does
not accept therefore gets Typer's conversion and Typer's error message, byte for byte; only the
accepted values skip pydantic, and for them the result is the value Typer would return.

The hook is Typer's per-parameter cache of its converter (``_runtime_param``); a Typer without
it is left untouched, which costs the start-up time and nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

__all__ = ["fast_coercion"]


def fast_coercion(command: Any) -> None:
    """Give the plain parameters of `command` (and of its subcommands) the fast converter.

    The ``--help`` option is made per command on first use (and converted like the others,
    its ``None`` included), so the command's ``get_help_option`` is wrapped to treat it too.
    """
    for param in getattr(command, "params", ()):
        _speed_up(param)
    original = getattr(command, "get_help_option", None)
    if callable(original) and not getattr(original, "_asgiforge_fast", False):

        def get_help_option(ctx: Any) -> Any:
            option = original(ctx)
            _speed_up(option)
            return option

        get_help_option._asgiforge_fast = True  # type: ignore[attr-defined]
        command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        fast_coercion(sub)


def _speed_up(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", False) is not None:
        return
    if _is_plain(descriptor):
        param._runtime_param = _PlainConversion(descriptor)


def _is_plain(descriptor: Any) -> bool:
    info = descriptor.parameter_info
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return False
    annotation = descriptor.annotation
    if get_origin(annotation) is list and len(get_args(annotation)) == 1:
        annotation = get_args(annotation)[0]  # each item converts as a single value would
    if annotation in (str, bool, int, float, Path):
        return True
    literal = get_origin(annotation) is Literal
    return literal and all(isinstance(v, str) for v in get_args(annotation))


# A float as Typer (pydantic) reads it from plain decimal digits; anything else goes to Typer.
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


def _within(number: float, low: float | None, high: float | None) -> bool:
    return (low is None or number >= low) and (high is None or number <= high)


class _PlainConversion:
    """Stands in for Typer's converter of one parameter; builds the real one when needed."""

    __slots__ = ("descriptor", "typer_conversion")

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self.typer_conversion: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multi = param.multiple or param.nargs == -1
        if value is None:
            return () if multi else None  # what Typer returns for a missing value
        listed = get_origin(self.descriptor.annotation) is list
        if multi and listed and isinstance(value, (list, tuple)):
            items = [self._trivial(item) for item in value]
            if all(accepted for accepted, _ in items):
                return [self._checked(item, param, ctx) for _, item in items]
        elif not multi and not listed:
            accepted, result = self._trivial(value)
            if accepted:
                return self._checked(result, param, ctx)
        if self.typer_conversion is None:
            from typer._coercion import build_runtime_param

            self.typer_conversion = build_runtime_param(self.descriptor)
        return self.typer_conversion.coerce(value, param=param, ctx=ctx)

    def _trivial(self, value: Any) -> tuple[bool, Any]:
        annotation = self.descriptor.annotation
        if get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        info = self.descriptor.parameter_info
        if annotation is float and not info.clamp:
            number: float | None = None
            if type(value) is str and _DECIMAL.fullmatch(value):
                number = float(value)
            elif type(value) is float:
                number = value
            if number is not None and _within(number, info.min, info.max):
                return True, number
        if annotation is str and isinstance(value, str):
            return True, value
        if annotation is bool and isinstance(value, bool):
            return True, value
        if annotation is Path and isinstance(value, (str, Path)):
            return True, Path(value)
        if annotation is int and type(value) is str and value.isascii() and value.isdigit():
            number = int(value)
            if _within(number, info.min, info.max):
                return True, number
        if annotation is int and type(value) is int and info.min is None and info.max is None:
            return True, value
        if get_origin(annotation) is Literal and value in get_args(annotation):
            return True, value
        return False, None

    def _checked(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, Path):
            # Typer's own path checks (exists, file_okay, resolve_path...), which need no pydantic
            # once the value is a Path.
            from typer._param_types import coerce_cli_path

            return coerce_cli_path(
                value, self.descriptor.parameter_info, path_type=Path, param=param, ctx=ctx
            )
        return value
