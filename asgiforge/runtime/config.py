"""Settings from the environment and an optional `.env` file, cast and checked at start-up.

`config = Config(".env")` then `DEBUG = config("DEBUG", cast=bool, default=False)`: the process
environment wins over the file, a missing key without a default and a value that does not cast
are both errors that name the key, so a misconfigured service fails at import, not mid-request.
Values cast to `Secret` never show up in reprs or tracebacks.

`environ` wraps `os.environ` and refuses to change a key that configuration has already read:
tests that set `environ["DATABASE_URL"]` after the settings module was imported would otherwise
silently run against the old value.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeVar, overload

__all__ = ["Config", "Environ", "EnvironError", "environ", "undefined"]

T = TypeVar("T")


class undefined:
    """The "no default given" marker: `None` is a legitimate default."""


class EnvironError(Exception):
    """Changing an environment variable after configuration has read it."""


class Environ(MutableMapping[str, str]):
    """A mapping over `os.environ` (or any mapping) that remembers which keys were read."""

    def __init__(self, environ: MutableMapping[str, str] = os.environ) -> None:
        self._environ = environ
        self._has_been_read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self._has_been_read.add(key)
        return self._environ[key]

    def __setitem__(self, key: str, value: str) -> None:
        if key in self._has_been_read:
            raise EnvironError(
                f"Attempting to set environ['{key}'], but the value has already been read. "
                "Set it before the configuration is loaded (e.g. at the top of conftest.py)."
            )
        self._environ[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self._has_been_read:
            raise EnvironError(
                f"Attempting to delete environ['{key}'], but the value has already been read."
            )
        del self._environ[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


environ = Environ()

_BOOLS = {"true": True, "1": True, "false": False, "0": False}


class Config:
    """Reads `env_prefix + key` from `environ`, then from `env_file`, then uses `default`."""

    def __init__(
        self,
        env_file: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] = environ,
        env_prefix: str = "",
        encoding: str = "utf-8",
    ) -> None:
        self.environ = environ
        self.env_prefix = env_prefix
        self.file_values: dict[str, str] = {}
        if env_file is not None:
            if os.path.isfile(env_file):
                self.file_values = self._read_file(env_file, encoding)
            else:
                warnings.warn(f"Config file '{env_file}' not found.", stacklevel=2)

    @overload
    def __call__(self, key: str, *, default: None) -> str | None: ...

    @overload
    def __call__(self, key: str, cast: type[T], default: T = ...) -> T: ...

    @overload
    def __call__(self, key: str, cast: type[str] = ..., default: str = ...) -> str: ...

    @overload
    def __call__(self, key: str, cast: Callable[[Any], T] = ..., default: Any = ...) -> T: ...

    @overload
    def __call__(self, key: str, cast: type[str] = ..., default: T = ...) -> T | str: ...

    def __call__(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any:
        return self.get(key, cast, default)

    def get(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any:
        """The value of `key`, cast; a `default` is cast too (unless it is None)."""
        full_key = self.env_prefix + key
        if full_key in self.environ:
            return self._perform_cast(full_key, self.environ[full_key], cast)
        if full_key in self.file_values:
            return self._perform_cast(full_key, self.file_values[full_key], cast)
        if default is not undefined:
            return self._perform_cast(full_key, default, cast)
        raise KeyError(
            f"Config '{full_key}' is missing, and has no default. "
            "Set it in the environment or the .env file, or pass default=."
        )

    @staticmethod
    def _read_file(path: str | os.PathLike[str], encoding: str) -> dict[str, str]:
        """`KEY=value` lines; blank lines and `#` comments skipped, one pair of quotes stripped."""
        values: dict[str, str] = {}
        for raw_line in Path(path).read_text(encoding=encoding).splitlines():
            line = raw_line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            key = key.strip()
            if key.startswith("export "):
                key = key[len("export ") :].strip()
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[key] = value
        return values

    @staticmethod
    def _perform_cast(key: str, value: Any, cast: Callable[[Any], Any] | None) -> Any:
        if cast is None or value is None:
            return value
        if cast is bool and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in _BOOLS:
                raise ValueError(
                    f"Config '{key}' has value '{value}'. Not a valid bool (use true/false or 1/0)."
                )
            return _BOOLS[lowered]
        try:
            return cast(value)
        except (TypeError, ValueError):
            name = getattr(cast, "__name__", repr(cast))
            raise ValueError(f"Config '{key}' has value '{value}'. Not a valid {name}.") from None
