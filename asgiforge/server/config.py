"""Configuration in layers: command line > environment > pyproject.toml > default.

`resolve` walks `option_table.OPTIONS` once per command and records, for every option, the value
that wins and where it came from (`Source`), which is what ``--print-config`` shows. The
environment's strings and pyproject's TOML values are parsed here; a value that does not parse is
a one-line `ConfigError` naming the layer (``ASGIFORGE_WORKERS='abc' (environment): not an
integer``). `serve_options` / `dev_options` then build the frozen options dataclasses, which check
their own fields; such an error about a value that came from the environment or pyproject is
re-raised with the same prefix, so the user is sent to the place the value really came from.

Core module: no typer, no rich.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from asgiforge.errors import AsgiforgeError, ConfigError
from asgiforge.server.option_table import OPTIONS, Option, options_for

__all__ = ["Config", "Setting", "Source", "dev_options", "resolve", "serve_options"]

_T = TypeVar("_T")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_KIND_NAMES = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "path": "a path (string)",
}


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value came from: ``cli``, ``env`` (with the variable), ``pyproject`` (with the
    file) or ``default`` (with a note when the default was looked up, e.g. a found ``.env``)."""

    layer: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.layer} {self.detail}" if self.detail else self.layer


@dataclass(frozen=True, slots=True)
class Setting:
    """One option's effective value and its source."""

    option: Option
    value: Any
    source: Source
    # How the value was written in its layer (for messages): ``WEB_CONCURRENCY='0'``.
    spelled: str = ""

    def where(self, command: str) -> str:
        """The prefix naming the layer in an error about this value."""
        if self.source.layer == "env":
            return f"{self.spelled} (environment)"
        if self.source.layer == "pyproject":
            return f"[tool.asgiforge.{command}] {self.spelled} in {self.source.detail}"
        return ""


@dataclass(frozen=True, slots=True)
class Config:
    """Every option of one command with its effective value and source, in table order."""

    command: str
    settings: Mapping[str, Setting]
    pyproject: Path | None

    def __getitem__(self, name: str) -> Any:
        return self.settings[name].value

    def __iter__(self) -> Iterator[Setting]:
        return iter(self.settings.values())

    def as_json(self) -> dict[str, Any]:
        """``--print-config --json``: ``{key: {value, source, from}}`` (secrets never shown)."""
        result: dict[str, Any] = {}
        for setting in self:
            value = setting.value
            if setting.option.secret and value is not None:
                value = "***"
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(item) if isinstance(item, Path) else item for item in value]
            entry: dict[str, Any] = {"value": value, "source": setting.source.layer}
            if setting.source.detail:
                entry["from"] = setting.source.detail
            if value is None and setting.option.none_is:
                entry["means"] = setting.option.none_is
            result[setting.option.key] = entry
        return result

    def lines(self) -> list[tuple[str, str, str]]:
        """``--print-config``: (key, value as shown, source) per option."""
        rows = []
        for setting in self:
            value = setting.value
            if setting.option.secret and value is not None:
                shown = "***"
            elif value is None:
                shown = f"({setting.option.none_is or 'none'})"
            elif isinstance(value, bool):
                shown = "true" if value else "false"
            elif value == "":
                shown = '""'
            elif isinstance(value, tuple):
                shown = ", ".join(str(item) for item in value) or "(none)"
            else:
                shown = str(value)
            rows.append((setting.option.key, shown, str(setting.source)))
        return rows

    def wrap(self, build: Callable[[], _T]) -> _T:
        """Run `build`; an error about an option set in the environment or pyproject names it."""
        try:
            return build()
        except AsgiforgeError as exc:
            message = str(exc)
            for setting in self:
                option = setting.option
                prefix = setting.where(self.command)
                if prefix and _names(message, option):
                    raise type(exc)(f"{prefix}: {message}") from None
            raise


def _names(message: str, option: Option) -> bool:
    flag = option.flag
    return (
        message.startswith(flag)
        and not message[len(flag) : len(flag) + 1].isalnum()
        and (message[len(flag) : len(flag) + 1] != "-")
    )


def resolve(
    command: str,
    given: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Each option of `command` from the first layer that sets it.

    `given` holds the command line's values (None, or an empty sequence, where a flag was not
    used). The pyproject.toml read is the nearest one at or above the app dir (itself from the
    command line, the environment or ``.``); paths in it are relative to its directory.
    """
    from asgiforge.importer import find_pyproject

    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    rows = options_for(command)
    settings: dict[str, Setting] = {}
    for option in rows:
        setting = _from_cli(option, given.get(option.name)) or _from_env(option, environ)
        if setting is not None:
            settings[option.name] = setting
    app_dir = settings["app_dir"].value if "app_dir" in settings else Path(".")
    pyproject = find_pyproject((cwd / app_dir).resolve())
    table = _pyproject_table(command, pyproject) if pyproject is not None else {}
    keys = {option.key: option for option in rows if not option.secret}
    for key, raw in table.items():
        found = keys.get(key.replace("_", "-"))
        if found is None:
            hint = difflib.get_close_matches(key, list(keys), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(
                f"[tool.asgiforge.{command}] in {pyproject}: unknown option {key!r}{suggestion}"
            )
        if found.name not in settings and pyproject is not None:
            settings[found.name] = _from_pyproject(command, found, key, raw, pyproject)
    ordered = {
        option.name: settings.get(option.name)
        or Setting(option, option.default(command), Source("default"))
        for option in rows
    }
    dotenv = ordered.get("dotenv")
    if dotenv is not None and dotenv.value and ordered["env_file"].value is None:
        found = ordered["app_dir"].value / ".env"
        if (cwd / found).is_file():
            ordered["env_file"] = Setting(
                ordered["env_file"].option, found, Source("default", "(found in --app-dir)")
            )
    return Config(command, ordered, pyproject)


def _from_cli(option: Option, value: Any) -> Setting | None:
    if value is None or (isinstance(value, list | tuple) and not value):
        return None
    if isinstance(value, list):
        value = tuple(value)
    return Setting(option, value, Source("cli"), option.flag)


def _from_env(option: Option, environ: Mapping[str, str]) -> Setting | None:
    for name in option.env_names:
        text = environ.get(name)
        if text is None or not text.strip():
            continue
        spelled = f"{name}=***" if option.secret else f"{name}={text!r}"
        try:
            value = _parse_text(option, text.strip())
        except ValueError as exc:
            raise ConfigError(f"{spelled} (environment): {exc}") from None
        return Setting(option, value, Source("env", name), spelled)
    return None


def _parse_text(option: Option, text: str) -> Any:
    kind = option.kind
    if kind in ("strs", "ints", "paths"):
        items = [item.strip() for item in text.split(",") if item.strip()]
        return tuple(_scalar_text(kind[:-1], option, item) for item in items)
    return _scalar_text(kind, option, text)


def _scalar_text(kind: str, option: Option, text: str) -> Any:
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError("not an integer") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ValueError("not a number") from None
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("not a boolean (true/false, 1/0, yes/no, on/off)")
    if kind == "path":
        return Path(text)
    _check_choice(option, text)
    return text


def _check_choice(option: Option, text: str) -> None:
    if option.choices and text not in option.choices:
        raise ValueError(f"must be one of {', '.join(option.choices)}")


def _pyproject_table(command: str, pyproject: Path) -> Mapping[str, Any]:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {pyproject}: {exc}") from None
    tool = data.get("tool", {})
    section = tool.get("asgiforge", {}) if isinstance(tool, dict) else {}
    table = section.get(command, {}) if isinstance(section, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.asgiforge.{command}] in {pyproject}: expected a table")
    return table


def _from_pyproject(command: str, option: Option, key: str, raw: Any, pyproject: Path) -> Setting:
    spelled = f"{key} = {raw!r}"
    try:
        value = _parse_toml(option, raw, pyproject.parent)
    except ValueError as exc:
        raise ConfigError(f"[tool.asgiforge.{command}] {key} in {pyproject}: {exc}") from None
    return Setting(option, value, Source("pyproject", str(pyproject)), spelled)


def _parse_toml(option: Option, raw: Any, base: Path) -> Any:
    kind = option.kind
    if kind in ("strs", "ints", "paths"):
        items = raw if isinstance(raw, list) else [raw]
        return tuple(_scalar_toml(kind[:-1], option, item, base) for item in items)
    return _scalar_toml(kind, option, raw, base)


def _scalar_toml(kind: str, option: Option, raw: Any, base: Path) -> Any:
    ok = {
        "int": isinstance(raw, int) and not isinstance(raw, bool),
        "float": isinstance(raw, int | float) and not isinstance(raw, bool),
        "bool": isinstance(raw, bool),
        "str": isinstance(raw, str),
        "path": isinstance(raw, str),
    }[kind]
    if not ok:
        raise ValueError(f"must be {_KIND_NAMES[kind]} (got {raw!r})")
    if kind == "float":
        return float(raw)
    if kind == "path":
        path = Path(raw).expanduser()
        return path if path.is_absolute() else base / path
    if kind == "str":
        _check_choice(option, raw)
    return raw


def _password(config: Config) -> str | None:
    """The key's password: from ASGIFORGE_SSL_KEYFILE_PASSWORD or the password file's first line."""
    password: str | None = config["ssl_keyfile_password"]
    path: Path | None = config["ssl_keyfile_password_file"]
    if path is None:
        return password
    if password is not None:
        raise ConfigError(
            "the key's password is given twice: ASGIFORGE_SSL_KEYFILE_PASSWORD and "
            "--ssl-keyfile-password-file (keep one)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read --ssl-keyfile-password-file {path}: {reason}") from None
    return text.splitlines()[0] if text else ""


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def http_options(config: Config) -> Any:
    """`HTTPOptions` (and its `HeadLimits` for `serve`) from the options the command takes."""
    from asgiforge.server.options import HeadLimits, HTTPOptions

    def build() -> HTTPOptions:
        tls = {
            "ssl_certfile": _str(config["ssl_certfile"]),
            "ssl_keyfile": _str(config["ssl_keyfile"]),
            "ssl_keyfile_password": _password(config),
            "ssl_ca_certs": _str(config["ssl_ca_certs"]),
            "ssl_cert_reqs": config["ssl_cert_reqs"],
            "ssl_ciphers": config["ssl_ciphers"],
        }
        common = {
            "root_path": config["root_path"],
            "log_level": config["log_level"],
            "proxy_headers": config["proxy_headers"],
            "forwarded_allow_ips": config["forwarded_allow_ips"],
            "forwarded_host": config["forwarded_host"],
            "access_log_format": config["access_log_format"],
            **tls,
        }
        if config.command == "dev":
            return HTTPOptions(**common)
        limits = HeadLimits(
            max_request_line=config["limit_request_line"],
            max_headers=config["limit_request_fields"],
            max_header_size=config["limit_request_field_size"],
            header_timeout=config["header_timeout"],
            max_body_size=config["limit_request_body"] or None,
            body_timeout=config["body_timeout"],
        )
        return HTTPOptions(
            loop=config["loop"],
            http=config["http"],
            limit_concurrency=config["limit_concurrency"],
            access_log=config["access_log"],
            timeout_keep_alive=config["timeout_keep_alive"],
            ws_max_size=config["ws_max_size"],
            ws_max_unread=config["ws_max_unread"],
            limits=limits,
            **common,
        )

    return config.wrap(build)


def env_file(config: Config) -> Path | None:
    """`--env-file`, else (dev, unless --no-env-file) ``.env`` in the app dir when it exists
    (`resolve` looked for it)."""
    path: Path | None = config["env_file"]
    return path


def serve_options(config: Config, app: str | None) -> tuple[Any, Callable[[], Any]]:
    """`ServeOptions` and the re-resolving target function SIGHUP calls."""
    from functools import partial

    from asgiforge.importer import resolve_target
    from asgiforge.server.serve.options import ServeOptions
    from asgiforge.server.sockets import listen_addresses

    http = http_options(config)
    retarget = partial(
        resolve_target,
        app,
        app_dir=config["app_dir"],
        factory=config["factory"],
        env_file=env_file(config),
    )

    def build() -> ServeOptions:
        given = {s.option.name for s in config if s.source.layer != "default"}
        binds = listen_addresses(
            config["host"] if "host" in given else None,
            config["port"] if "port" in given else None,
            config["bind"],
            config["fd"],
        )
        return ServeOptions(
            target=retarget(),
            binds=binds,
            http=http,
            workers=config["workers"],
            timeout=config["timeout"],
            graceful_timeout=config["graceful_timeout"],
            max_requests=config["max_requests"],
            max_requests_jitter=config["max_requests_jitter"],
            max_worker_memory_mb=config["max_worker_memory"],
            pid_file=config["pid"],
        )

    return config.wrap(build), retarget


def dev_options(config: Config, app: str | None) -> Any:
    """`DevOptions` for `asgiforge dev`."""
    from asgiforge.importer import resolve_target
    from asgiforge.server.dev.options import DevOptions, ReloadOptions, watch_dirs, watch_includes

    http = http_options(config)

    def build() -> DevOptions:
        target = resolve_target(
            app,
            app_dir=config["app_dir"],
            factory=config["factory"],
            env_file=env_file(config),
        )
        reload = None
        if config["reload"]:
            reload = ReloadOptions(
                dirs=watch_dirs(target, config["reload_dir"]),
                includes=watch_includes(target, config["reload_include"]),
                excludes=tuple(config["reload_exclude"]),
                graceful_timeout=config["graceful_timeout"],
            )
        return DevOptions(
            target=target,
            host=config["host"],
            port=config["port"],
            http=http,
            reload=reload,
            debug=config["debug"],
        )

    return config.wrap(build)


def env_file_summary(path: Path) -> str:
    """``.env (3 variables)``: what dev's banner says about the env file it loads."""
    try:
        from dotenv import dotenv_values

        count = len(dotenv_values(path))
    except Exception:
        return str(path)
    return f"{path} ({count} variable{'s' if count != 1 else ''})"


# Every row has a kind the parsers know (a table typo is a bug, caught on import).
for _option in OPTIONS:
    if _option.kind not in ("str", "int", "float", "bool", "path", "strs", "ints", "paths"):
        raise RuntimeError(f"option {_option.name}: unknown kind {_option.kind!r}")
