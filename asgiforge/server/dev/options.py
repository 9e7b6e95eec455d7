"""Options of `asgiforge dev` and the reporter interface its process models talk through.

Shared by both dev process models (the reload supervisor in `dev.reload`, the single process in
`dev.single`) and by the forked dev worker, so none of them imports another just for a type. Nothing
here imports typer or rich: the CLI passes a `DevReporter` that renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from asgiforge.errors import UsageError
from asgiforge.server.options import AppTarget, HTTPOptions
from asgiforge.server.sockets import DEFAULT_PORT, BindAddress, tcp

__all__ = [
    "DEFAULT_INCLUDES",
    "DevOptions",
    "DevReporter",
    "ReloadEvent",
    "ReloadOptions",
    "StartInfo",
    "watch_dirs",
    "watch_includes",
]

DEFAULT_INCLUDES: tuple[str, ...] = ("*.py", "*.html", "*.jinja", "*.j2", ".env", "pyproject.toml")


@dataclass(frozen=True, slots=True)
class ReloadOptions:
    """What to watch and how to hand over between workers."""

    dirs: tuple[Path, ...]
    includes: tuple[str, ...] = DEFAULT_INCLUDES
    excludes: tuple[str, ...] = ()
    # watchfiles yields once nothing changed for `step_ms`: the floor of the reload latency.
    step_ms: int = 30
    # How long the old worker may keep WebSockets / streams open before they are cut.
    graceful_timeout: float = 3.0
    # Import the app's third-party modules into the supervisor so later forks start warm.
    preload: bool = True

    def __post_init__(self) -> None:
        if self.graceful_timeout < 0:
            raise UsageError(
                f"--graceful-timeout cannot be negative (got {self.graceful_timeout:g})"
            )


@dataclass(frozen=True, slots=True)
class DevOptions:
    """Everything `asgiforge dev` needs; `reload=None` means serve once, no watcher."""

    target: AppTarget
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    http: HTTPOptions = field(default_factory=HTTPOptions)
    reload: ReloadOptions | None = None
    debug: bool = True

    def __post_init__(self) -> None:
        self.address  # noqa: B018 - checks the port now, not when the supervisor binds

    @property
    def address(self) -> BindAddress:
        """Where to listen, bound through `asgiforge.server.sockets` like `serve`'s addresses."""
        return tcp(self.host, self.port)

    @property
    def graceful_timeout(self) -> float:
        return (self.reload or _NO_RELOAD).graceful_timeout

    def project_dirs(self) -> tuple[Path, ...]:
        """Directories holding the user's code: never preloaded, always imported fresh."""
        dirs = [self.target.app_dir.resolve()]
        if self.reload:
            dirs.extend(d.resolve() for d in self.reload.dirs)
        return tuple(dict.fromkeys(dirs))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.http.ssl_certfile else "http"
        return f"{scheme}://{host}:{self.port}{self.http.root_path}"


# What a dev process without a watcher uses for the settings reload would otherwise give.
_NO_RELOAD = ReloadOptions(dirs=())


def watch_dirs(target: AppTarget, requested: Sequence[Path] = ()) -> tuple[Path, ...]:
    """The directories to watch: those `requested` (each must exist), else the project's.

    The project is the directory of the nearest pyproject.toml above the app dir, or the app dir
    itself when it lives outside that project (or there is none).
    """
    if requested:
        for directory in requested:
            if not directory.is_dir():
                raise UsageError(f"--reload-dir '{directory}' is not a directory")
        return tuple(d.resolve() for d in requested)
    from asgiforge.importer import find_pyproject

    app_dir = target.app_dir.resolve()
    pyproject = find_pyproject(app_dir)
    project = pyproject.parent if pyproject else app_dir
    return (project,) if app_dir.is_relative_to(project) else (app_dir,)


def watch_includes(target: AppTarget, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """`DEFAULT_INCLUDES`, the user's extra globs, and the env file (re-read on every reload)."""
    includes = DEFAULT_INCLUDES + tuple(extra)
    if target.env_file is not None:
        includes += (target.env_file.name,)
    return includes


@dataclass(frozen=True, slots=True)
class StartInfo:
    """What the banner shows once the first worker serves."""

    app: str
    url: str
    routes: int | None
    watched: tuple[Path, ...]
    ok: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    """One reload: what changed, and save → serving in seconds (None if unknown)."""

    changes: tuple[str, ...]
    seconds: float | None
    ok: bool
    error: str | None
    routes: int | None


class DevReporter(Protocol):
    """Where the dev process models and their workers say things; the CLI's uses rich."""

    def started(self, info: StartInfo) -> None: ...

    def reloaded(self, event: ReloadEvent) -> None: ...

    def load_failed(self, error: BaseException) -> None: ...

    def message(self, text: str) -> None: ...
