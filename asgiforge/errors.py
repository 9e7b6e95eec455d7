"""Domain errors shared by the core modules and mapped to exit codes by the CLI, in one place.

Core modules (scaffold, importer, introspect, supervisors) raise these and never print or exit
themselves, so they stay usable as a library and the CLI stays a thin shell.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class AsgiforgeError(Exception):
    """Base of every error that is the user's to fix: shown as one line, never a traceback."""

    exit_code: int = 1


class UsageError(AsgiforgeError):
    """A bad option value or combination of options."""

    exit_code = 2


class ConfigError(UsageError):
    """A value from the environment or pyproject.toml that does not parse, or an unknown key;
    the message names the layer it came from."""


class AppNotFoundError(AsgiforgeError):
    """No application could be located from the argument, pyproject.toml or the conventions."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """One frame of the user's code, for an error that points at it: where, and the line there."""

    file: str
    line: int
    function: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" + (f" in {self.function}" if self.function else "")
        return f"{where}: {self.source}" if self.source else where


class AppImportError(AsgiforgeError):
    """The application's module was found but importing it (or calling its factory) failed.

    The message is one line naming the exception and the file and line in the user's code where
    it happened; `frames` holds the last few of the user's frames (innermost last) for a
    renderer to show below it, so the error points at the user's code without a wall of
    importlib and asgiforge frames.
    """

    exit_code = 3

    def __init__(self, message: str, frames: Iterable[SourceFrame] = ()) -> None:
        super().__init__(message)
        self.frames: tuple[SourceFrame, ...] = tuple(frames)


class ScaffoldError(AsgiforgeError):
    """`asgiforge new` refused or failed; the user's files are left exactly as they were."""

    exit_code = 1


class ServeError(AsgiforgeError):
    """The server could not start: a bind failure, an unreadable certificate, a failed startup."""

    exit_code = 3


class RouteCheckError(AsgiforgeError):
    """`asgiforge routes --check` found problems CI should fail on."""

    exit_code = 1


class UpdateConflictError(AsgiforgeError):
    """`asgiforge update` wrote its merge but some files hold conflict markers to resolve."""

    exit_code = 1


class UntrustedTemplateError(AsgiforgeError):
    """A template wants to run commands (`tasks`) and the user has not trusted it."""

    exit_code = 1
