"""Domain errors shared by the core modules and mapped to exit codes by the CLI, in one place.

Core modules (scaffold, importer, introspect, supervisors) raise these and never print or exit
themselves, so they stay usable as a library and the CLI stays a thin shell.
"""

from __future__ import annotations


class AsgiforgeError(Exception):
    """Base of every error that is the user's to fix: shown as one line, never a traceback."""

    exit_code: int = 1


class UsageError(AsgiforgeError):
    """A bad option value or combination of options."""

    exit_code = 2


class AppNotFoundError(AsgiforgeError):
    """No application could be located from the argument, pyproject.toml or the conventions."""

    exit_code = 2


class AppImportError(AsgiforgeError):
    """The application's module was found but importing it (or calling its factory) failed."""

    exit_code = 3


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
