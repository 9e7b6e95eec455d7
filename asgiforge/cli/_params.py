"""Arguments and options that several commands take, each declared (help text included) once.

Defaults come from the options dataclasses in `asgiforge.server` (`field_default`), so a default
is stated in exactly one place, the core, and the CLI only says how to spell it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from asgiforge.server.options import LOG_LEVELS, AppTarget, HTTPOptions, field_default

AppArgument = Annotated[
    str | None,
    typer.Argument(
        help="module:attr, module:factory() or path/to/file.py:attr. Default: "
        "\\[tool.asgiforge] app in pyproject.toml, then main.py, app.py, app/main.py, src/<pkg>.",
        show_default=False,
    ),
]
AppDirOption = Annotated[
    Path, typer.Option("--app-dir", help="Directory to import the app from (put on sys.path).")
]
FactoryOption = Annotated[
    bool, typer.Option("--factory", help="APP is a factory to call with no arguments.")
]
RootPathOption = Annotated[
    str, typer.Option("--root-path", help="ASGI root_path, when behind a path prefix.")
]
LogLevelOption = Annotated[
    str, typer.Option("--log-level", help=f"uvicorn's log level: {', '.join(LOG_LEVELS)}.")
]

APP_DIR: Path = field_default(AppTarget, "app_dir")
FACTORY: bool = field_default(AppTarget, "factory")
ROOT_PATH: str = field_default(HTTPOptions, "root_path")
LOG_LEVEL: str = field_default(HTTPOptions, "log_level")
