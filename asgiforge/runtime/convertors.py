"""Path-parameter convertors: `{name:type}` in a route path picks one of these.

A convertor contributes a regular expression (what the path segment may look like), turns the
matched text into a Python value for `request.path_params`, and turns a value back into text for
`url_path_for`.

The registry is deliberately small and explicit. Starlette keeps one mutable module-global dict
that any import can silently overwrite; here the built-in convertors can never be replaced, and
`register_url_convertor` refuses to rebind an existing key to a different convertor, so one
library cannot change how another's routes match. Register custom convertors before building the
routes that use them (routes compile their path when constructed). `CONVERTOR_TYPES` is a
read-only view of the registry.
"""

from __future__ import annotations

import math
import re
import uuid
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

__all__ = [
    "CONVERTOR_TYPES",
    "Convertor",
    "FloatConvertor",
    "IntegerConvertor",
    "PathConvertor",
    "PathParamError",
    "StringConvertor",
    "UUIDConvertor",
    "register_url_convertor",
]

T = TypeVar("T")


class PathParamError(ValueError, AssertionError):
    """A value `url_path_for` cannot put into a URL (`/` in a `str` parameter, a negative int...).

    A `ValueError` with a message saying what is wrong. It is also an `AssertionError` because
    Starlette signals these with `assert`, and code ported from it (its own tests included) may
    catch that; unlike an `assert`, this check still runs under `python -O`.
    """


class Convertor(Generic[T]):
    """Base class: subclasses set `regex` and implement `convert` and `to_string`.

    `convert` may raise `ValueError` for text the regex accepted but the type rejects; the route
    then simply does not match (a 404), rather than failing with a 500.
    """

    regex: ClassVar[str] = ""

    def convert(self, value: str) -> T:
        raise NotImplementedError()

    def to_string(self, value: T) -> str:
        raise NotImplementedError()


class StringConvertor(Convertor[str]):
    """One path segment: anything but `/`."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        text = str(value)
        if not text:
            raise PathParamError("A str path parameter cannot be empty.")
        if "/" in text:
            raise PathParamError(f"A str path parameter cannot contain '/': {text!r}.")
        return text


class PathConvertor(Convertor[str]):
    """The rest of the path, slashes included (possibly empty)."""

    regex = ".*"

    def convert(self, value: str) -> str:
        return str(value)

    def to_string(self, value: str) -> str:
        return str(value)


class IntegerConvertor(Convertor[int]):
    """A non-negative decimal integer."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        number = int(value)
        if number < 0:
            raise PathParamError(f"An int path parameter cannot be negative: {number}.")
        return str(number)


class FloatConvertor(Convertor[float]):
    """A non-negative decimal number without exponent (`3`, `3.25`)."""

    regex = r"[0-9]+(?:\.[0-9]+)?"

    def convert(self, value: str) -> float:
        return float(value)

    def to_string(self, value: float) -> str:
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise PathParamError(f"A float path parameter must be finite: {number}.")
        if number < 0:
            raise PathParamError(f"A float path parameter cannot be negative: {number}.")
        return ("%0.20f" % number).rstrip("0").rstrip(".")  # noqa: UP031


class UUIDConvertor(Convertor[uuid.UUID]):
    """A UUID as 32 hex digits, either case, hyphens optional (as Starlette accepts it).

    URLs are built in the canonical lower-case hyphenated form.
    """

    regex = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

    def convert(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_string(self, value: uuid.UUID) -> str:
        return str(value)


_BUILTIN: dict[str, Convertor[Any]] = {
    "str": StringConvertor(),
    "path": PathConvertor(),
    "int": IntegerConvertor(),
    "float": FloatConvertor(),
    "uuid": UUIDConvertor(),
}
_registry: dict[str, Convertor[Any]] = dict(_BUILTIN)

#: Read-only view of every known convertor, by the key used in `{name:key}`.
CONVERTOR_TYPES = MappingProxyType(_registry)

_KEY = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def register_url_convertor(key: str, convertor: Convertor[Any]) -> None:
    """Make `{name:key}` usable in route paths built after this call.

    Registering the same key again with a convertor of the same class is a no-op (so re-importing
    a module is harmless); rebinding a key to a different convertor, or replacing a built-in,
    raises `ValueError` instead of silently changing how existing routes match.
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"Convertor key {key!r} must be an identifier like 'slug'.")
    if not isinstance(convertor, Convertor):
        raise TypeError(
            f"register_url_convertor({key!r}, ...) needs a Convertor instance, "
            f"got {type(convertor).__name__}."
        )
    if not isinstance(convertor.regex, str) or not convertor.regex:
        raise ValueError(f"Convertor {type(convertor).__name__} must define a non-empty `regex`.")
    try:
        re.compile(convertor.regex)
    except re.error as exc:
        raise ValueError(
            f"Convertor {type(convertor).__name__} has an invalid regex {convertor.regex!r}: {exc}"
        ) from None
    existing = _registry.get(key)
    if existing is not None:
        if type(existing) is type(convertor):
            return
        what = "the built-in" if key in _BUILTIN else "an existing"
        raise ValueError(
            f"Cannot register convertor {key!r}: {what} convertor "
            f"{type(existing).__name__} already uses that key. Pick another key."
        )
    _registry[key] = convertor
