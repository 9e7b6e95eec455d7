"""`serve` and `dev` parameters generated from `asgiforge.server.option_table`, and their shell.

`table_command` builds a function whose ``__signature__`` holds one ``Annotated`` typer option per
table row (all defaulting to None, so the shell knows what the command line set and the other
layers can fill the rest), plus the APP argument and ``--print-config`` / ``--json`` /
``--check-config``. Help lines come from the table with the variables that set each option and
its default. The function resolves the layers (`asgiforge.server.config.resolve`) and hands the
result to the command's `run`.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from asgiforge.cli._params import AppArgument
from asgiforge.server.option_table import Option, options_for

__all__ = ["Mode", "table_command"]

_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "path": Path,
    "strs": list[str],
    "ints": list[int],
    "paths": list[Path],
}
_MODES = ("print_config", "json", "check_config")


class Mode:
    """What the command was asked to do besides running: print or check the configuration."""

    def __init__(self, print_config: bool, json: bool, check_config: bool) -> None:
        self.print_config = print_config
        self.json = json
        self.check_config = check_config


def _shown_default(option: Option, command: str) -> str:
    value = option.default(command)
    if value is None:
        return option.none_is or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def _help(option: Option, command: str) -> str:
    text = option.help
    if option.choices:
        text += f" One of: {', '.join(option.choices)}."
    text += f" [env: {', '.join(option.env_names)}] [default: {_shown_default(option, command)}]"
    return text.replace("[", "\\[")


def _parameter(option: Option, command: str) -> inspect.Parameter:
    flags = option.flags
    info = typer.Option(*flags, help=_help(option, command), show_default=False)
    value_type: Any = _TYPES[option.kind]
    annotation = Annotated[value_type | None, info]
    return inspect.Parameter(
        option.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
    )


def _mode_parameters(command: str) -> list[inspect.Parameter]:
    helps = {
        "print_config": (
            "--print-config",
            "Print every option's effective value and where it came from, and exit.",
        ),
        "json": ("--json", "With --print-config: print it as JSON."),
        "check_config": (
            "--check-config",
            "Validate everything (options, the app's import, the TLS files), bind nothing; "
            "exit 0 with 'ok' or with the one-line error.",
        ),
    }
    return [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=False,
            annotation=Annotated[bool, typer.Option(flag, help=text)],
        )
        for name, (flag, text) in helps.items()
    ]


def table_command(
    command: str, run: Callable[[str | None, Any, Mode], None], doc: str
) -> Callable[..., None]:
    """The typer callback of `command`: parse, resolve the layers, call `run(app, config, mode)`."""
    rows = [option for option in options_for(command) if option.flags]

    def callback(**given: Any) -> None:
        from asgiforge.server.config import resolve

        app = given.pop("app", None)
        mode = Mode(*(bool(given.pop(name, False)) for name in _MODES))
        if mode.json and not mode.print_config:
            from asgiforge.errors import UsageError

            raise UsageError("--json goes with --print-config")
        config = resolve(command, given, os.environ)
        run(app, config, mode)

    parameters = [
        inspect.Parameter(
            "app", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=AppArgument
        ),
        *(_parameter(option, command) for option in rows),
        *_mode_parameters(command),
    ]
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in parameters}
    callback.__doc__ = doc
    callback.__name__ = command
    return callback


def print_config(config: Any, as_json: bool) -> None:
    """``--print-config``: one line per option (key, value, source), or one JSON object."""
    if as_json:
        import json
        import sys

        document = {"command": config.command, "pyproject": _str(config.pyproject)}
        document["options"] = config.as_json()
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    import sys

    rows = config.lines()
    key_width = max(len(key) for key, _, _ in rows)
    value_width = min(max(len(shown) for _, shown, _ in rows), 40)
    for key, shown, source in rows:
        sys.stdout.write(f"{key:<{key_width}}  {shown:<{value_width}}  {source}\n")


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def check_config(target: Any, http: Any) -> None:
    """``--check-config``: the TLS files load, the app imports; then one ``ok`` line."""
    from asgiforge.cli.output import out
    from asgiforge.importer import load_app
    from asgiforge.server.tls import server_context

    server_context(http)
    load_app(target)
    tls = ", TLS files load" if http.ssl_certfile else ""
    out().print(f"ok: {target.import_string} imports{tls}", markup=False)
