"""The one table of `serve` and `dev` options: every flag, variable and pyproject key, written once.

Each `Option` row says how an option is spelt on the command line, in the environment
(``ASGIFORGE_<NAME>`` plus the conventional ``PORT``, ``WEB_CONCURRENCY``, ``FORWARDED_ALLOW_IPS``)
and in ``[tool.asgiforge.serve]`` / ``[tool.asgiforge.dev]``, which commands take it, its help line
and the dataclass field it feeds. Its default is *read* from that field (`field_default`), so
defaults stay stated once, in the options dataclasses. `asgiforge.server.config` resolves the
layers from this table and the CLI generates its parameters and help from it.

Nothing here imports typer, rich, uvicorn or the runtime: the table is data, cheap to import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asgiforge.server.dev.options import DevOptions, ReloadOptions
from asgiforge.server.options import (
    ACCESS_LOG_FORMATS,
    HTTP_IMPLEMENTATIONS,
    LOG_LEVELS,
    LOOPS,
    SSL_CERT_REQS,
    AppTarget,
    HeadLimits,
    HTTPOptions,
    field_default,
)
from asgiforge.server.serve.options import ServeOptions
from asgiforge.server.sockets import DEFAULT_HOST, DEFAULT_PORT

__all__ = ["COMMANDS", "KINDS", "OPTIONS", "Option", "options_for"]

COMMANDS = ("serve", "dev")
# What a value is: how the environment's and pyproject's values are parsed, and the CLI's type.
KINDS = ("str", "int", "float", "bool", "path", "strs", "ints", "paths")
ENV_PREFIX = "ASGIFORGE_"


@dataclass(frozen=True, slots=True)
class Option:
    """One option of `serve` and/or `dev`.

    ``flags`` are the command-line spellings (``"--access-log/--no-access-log"`` for a switch
    with both sides); none means the value may come from the environment only (a secret).
    ``defaults`` maps each command taking the option to its default; ``feeds`` names the field
    (or the call) the value ends up in. ``none_is`` says what an unset (None) default means.
    """

    name: str
    kind: str
    help: str
    defaults: Mapping[str, Any]
    feeds: str
    flags: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    none_is: str = ""
    secret: bool = False

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(self.defaults)

    @property
    def key(self) -> str:
        """The pyproject key: the long flag without its dashes (``forwarded-allow-ips``)."""
        return self.name.replace("_", "-")

    @property
    def env_names(self) -> tuple[str, ...]:
        """Variables read for it, the first set one wins: ``ASGIFORGE_<NAME>``, then the
        conventional ones."""
        return (ENV_PREFIX + self.name.upper(), *self.env)

    @property
    def flag(self) -> str:
        """How messages name the option: its long flag, else its first variable."""
        if self.flags:
            return self.flags[0].split("/")[0]
        return self.env_names[0]

    def default(self, command: str) -> Any:
        return self.defaults[command]


def _both(value: Any) -> dict[str, Any]:
    return {"serve": value, "dev": value}


def _serve(value: Any) -> dict[str, Any]:
    return {"serve": value}


def _dev(value: Any) -> dict[str, Any]:
    return {"dev": value}


def _http(name: str) -> Any:
    return field_default(HTTPOptions, name)


def _limit(name: str) -> Any:
    return field_default(HeadLimits, name)


def _served(name: str) -> Any:
    return field_default(ServeOptions, name)


OPTIONS: tuple[Option, ...] = (
    # Where to listen.
    Option(
        "host",
        "str",
        "Interface to bind.",
        {"serve": DEFAULT_HOST, "dev": field_default(DevOptions, "host")},
        "sockets.listen_addresses / DevOptions.host",
        ("--host",),
    ),
    Option(
        "port",
        "int",
        "Port to bind.",
        {"serve": DEFAULT_PORT, "dev": field_default(DevOptions, "port")},
        "sockets.listen_addresses / DevOptions.port",
        ("--port", "-p"),
        env=("PORT",),
    ),
    Option(
        "bind",
        "strs",
        "host:port, [v6]:port or unix:/path; repeatable (comma-separated in the environment).",
        _serve(()),
        "sockets.listen_addresses",
        ("--bind", "-b"),
    ),
    Option(
        "fd",
        "ints",
        "Listen on an inherited socket descriptor; repeatable.",
        _serve(()),
        "sockets.listen_addresses",
        ("--fd",),
    ),
    # What to run.
    Option(
        "app_dir",
        "path",
        "Directory to import the app from (put on sys.path).",
        _both(field_default(AppTarget, "app_dir")),
        "AppTarget.app_dir",
        ("--app-dir",),
    ),
    Option(
        "factory",
        "bool",
        "APP is a factory to call with no arguments.",
        _both(field_default(AppTarget, "factory")),
        "AppTarget.factory",
        ("--factory",),
    ),
    Option(
        "env_file",
        "path",
        "KEY=VALUE file loaded into the app's environment before each import (dev: .env in "
        "--app-dir when it exists).",
        _both(None),
        "AppTarget.env_file",
        ("--env-file",),
    ),
    Option(
        "dotenv",
        "bool",
        "Load .env from --app-dir when it exists and no --env-file is given.",
        _dev(True),
        "AppTarget.env_file",
        ("--dotenv/--no-env-file",),
    ),
    # Workers.
    Option(
        "workers",
        "int",
        "Worker processes.",
        _serve(None),
        "ServeOptions.workers",
        ("--workers", "-w"),
        env=("WEB_CONCURRENCY",),
        none_is="the CPU count",
    ),
    Option(
        "timeout",
        "float",
        "Replace a worker whose event loop is silent this long (s).",
        _serve(_served("timeout")),
        "ServeOptions.timeout",
        ("--timeout",),
    ),
    Option(
        "graceful_timeout",
        "float",
        "Time in-flight requests and streams get on stop, restart or reload (s).",
        {
            "serve": _served("graceful_timeout"),
            "dev": field_default(ReloadOptions, "graceful_timeout"),
        },
        "ServeOptions.graceful_timeout / ReloadOptions.graceful_timeout",
        ("--graceful-timeout",),
    ),
    Option(
        "max_requests",
        "int",
        "Recycle a worker after this many requests.",
        _serve(_served("max_requests")),
        "ServeOptions.max_requests",
        ("--max-requests",),
        none_is="never",
    ),
    Option(
        "max_requests_jitter",
        "int",
        "Random 0..J added to --max-requests per worker.",
        _serve(_served("max_requests_jitter")),
        "ServeOptions.max_requests_jitter",
        ("--max-requests-jitter",),
    ),
    Option(
        "max_worker_memory",
        "float",
        "Recycle a worker above this resident memory (MB).",
        _serve(_served("max_worker_memory_mb")),
        "ServeOptions.max_worker_memory_mb",
        ("--max-worker-memory",),
        none_is="no limit",
    ),
    Option(
        "pid",
        "path",
        "Write the master's PID to this file.",
        _serve(_served("pid_file")),
        "ServeOptions.pid_file",
        ("--pid",),
    ),
    # dev's reloader.
    Option(
        "reload",
        "bool",
        "Watch the files and reload on save (--no-reload: serve once).",
        _dev(True),
        "DevOptions.reload",
        ("--reload/--no-reload",),
    ),
    Option(
        "reload_dir",
        "paths",
        "Directory to watch (repeatable). Default: the project.",
        _dev(()),
        "ReloadOptions.dirs",
        ("--reload-dir",),
    ),
    Option(
        "reload_include",
        "strs",
        "Extra glob to watch (repeatable); *.py, templates, .env and pyproject.toml always are.",
        _dev(()),
        "ReloadOptions.includes",
        ("--reload-include",),
    ),
    Option(
        "reload_exclude",
        "strs",
        "Glob of files or directories to ignore (repeatable); .venv, .git, node_modules, "
        "__pycache__ and build folders always are.",
        _dev(()),
        "ReloadOptions.excludes",
        ("--reload-exclude",),
    ),
    Option(
        "debug",
        "bool",
        "Switch the app's debug mode on (tracebacks in error pages).",
        _dev(field_default(DevOptions, "debug")),
        "DevOptions.debug",
        ("--debug/--no-debug",),
    ),
    # HTTP.
    Option(
        "loop",
        "str",
        "Event loop.",
        _serve(_http("loop")),
        "HTTPOptions.loop",
        ("--loop",),
        choices=LOOPS,
    ),
    Option(
        "http",
        "str",
        "HTTP implementation (auto: httptools if installed).",
        _serve(_http("http")),
        "HTTPOptions.http",
        ("--http",),
        choices=HTTP_IMPLEMENTATIONS,
    ),
    Option(
        "proxy_headers",
        "bool",
        "Read Forwarded / X-Forwarded-* from the peers in --forwarded-allow-ips.",
        _both(_http("proxy_headers")),
        "HTTPOptions.proxy_headers",
        ("--proxy-headers/--no-proxy-headers",),
        none_is="on",
    ),
    Option(
        "forwarded_allow_ips",
        "str",
        "Proxy IPs / CIDR networks to trust, comma-separated ('*': any); naming one turns "
        "proxy headers on.",
        _both(_http("forwarded_allow_ips")),
        "HTTPOptions.forwarded_allow_ips",
        ("--forwarded-allow-ips",),
        env=("FORWARDED_ALLOW_IPS",),
        none_is="127.0.0.1,::1",
    ),
    Option(
        "forwarded_host",
        "bool",
        "Also take the host a trusted proxy reports (X-Forwarded-Host, Forwarded host=).",
        _both(_http("forwarded_host")),
        "HTTPOptions.forwarded_host",
        ("--forwarded-host/--no-forwarded-host",),
    ),
    Option(
        "root_path",
        "str",
        "ASGI root_path, when behind a path prefix.",
        _both(_http("root_path")),
        "HTTPOptions.root_path",
        ("--root-path",),
    ),
    Option(
        "limit_concurrency",
        "int",
        "Answer 503 beyond this many connections per worker.",
        _serve(_http("limit_concurrency")),
        "HTTPOptions.limit_concurrency",
        ("--limit-concurrency",),
        none_is="no limit",
    ),
    Option(
        "access_log",
        "bool",
        "Log every request.",
        _serve(_http("access_log")),
        "HTTPOptions.access_log",
        ("--access-log/--no-access-log",),
    ),
    Option(
        "access_log_format",
        "str",
        "Access log: uvicorn's text line, or one JSON object per request on stdout (method, "
        "path, status, duration_ms, bytes, client, request_id).",
        _both(_http("access_log_format")),
        "HTTPOptions.access_log_format",
        ("--access-log-format",),
        choices=ACCESS_LOG_FORMATS,
    ),
    Option(
        "log_level",
        "str",
        "uvicorn's log level.",
        _both(_http("log_level")),
        "HTTPOptions.log_level",
        ("--log-level",),
        choices=tuple(LOG_LEVELS),
    ),
    Option(
        "timeout_keep_alive",
        "int",
        "Close an idle keep-alive connection after this long (s).",
        _serve(_http("timeout_keep_alive")),
        "HTTPOptions.timeout_keep_alive",
        ("--timeout-keep-alive",),
    ),
    Option(
        "header_timeout",
        "float",
        "Disconnect a client that has not sent a complete request head (s).",
        _serve(_limit("header_timeout")),
        "HeadLimits.header_timeout",
        ("--header-timeout",),
    ),
    Option(
        "limit_request_line",
        "int",
        "Longest request target in bytes (414 beyond).",
        _serve(_limit("max_request_line")),
        "HeadLimits.max_request_line",
        ("--limit-request-line",),
    ),
    Option(
        "limit_request_fields",
        "int",
        "Most header fields in one request (431 beyond).",
        _serve(_limit("max_headers")),
        "HeadLimits.max_headers",
        ("--limit-request-fields",),
    ),
    Option(
        "limit_request_field_size",
        "int",
        "Longest header field, name and value, in bytes (431 beyond).",
        _serve(_limit("max_header_size")),
        "HeadLimits.max_header_size",
        ("--limit-request-field-size",),
    ),
    Option(
        "limit_request_body",
        "int",
        "Largest request body in bytes, declared or chunked (413; 0: none).",
        _serve(_limit("max_body_size") or 0),
        "HeadLimits.max_body_size",
        ("--limit-request-body",),
    ),
    Option(
        "body_timeout",
        "float",
        "Answer 408 and close when a request body stalls this long (s).",
        _serve(_limit("body_timeout")),
        "HeadLimits.body_timeout",
        ("--body-timeout",),
    ),
    Option(
        "ws_max_size",
        "int",
        "Largest WebSocket message in bytes (closed with 1009 beyond).",
        _serve(_http("ws_max_size")),
        "HTTPOptions.ws_max_size",
        ("--ws-max-size",),
    ),
    Option(
        "ws_max_unread",
        "int",
        "Stop reading a WebSocket whose client leaves this much output unread.",
        _serve(_http("ws_max_unread")),
        "HTTPOptions.ws_max_unread",
        ("--ws-max-unread",),
    ),
    # TLS.
    Option(
        "ssl_certfile",
        "path",
        "TLS certificate (PEM): serve HTTPS.",
        _both(_http("ssl_certfile")),
        "HTTPOptions.ssl_certfile",
        ("--ssl-certfile",),
    ),
    Option(
        "ssl_keyfile",
        "path",
        "TLS private key (PEM), when not in the certificate file.",
        _both(_http("ssl_keyfile")),
        "HTTPOptions.ssl_keyfile",
        ("--ssl-keyfile",),
    ),
    Option(
        "ssl_keyfile_password_file",
        "path",
        "File whose first line is the key's password (or set ASGIFORGE_SSL_KEYFILE_PASSWORD).",
        _both(None),
        "HTTPOptions.ssl_keyfile_password",
        ("--ssl-keyfile-password-file",),
    ),
    Option(
        "ssl_keyfile_password",
        "str",
        "The key's password; from the environment only, never the command line.",
        _both(_http("ssl_keyfile_password")),
        "HTTPOptions.ssl_keyfile_password",
        secret=True,
    ),
    Option(
        "ssl_ca_certs",
        "path",
        "CA certificates (PEM) that sign the client certificates.",
        _both(_http("ssl_ca_certs")),
        "HTTPOptions.ssl_ca_certs",
        ("--ssl-ca-certs",),
    ),
    Option(
        "ssl_cert_reqs",
        "str",
        "Client certificate: none, optional (checked if sent) or required.",
        _both(_http("ssl_cert_reqs")),
        "HTTPOptions.ssl_cert_reqs",
        ("--ssl-cert-reqs",),
        choices=SSL_CERT_REQS,
    ),
    Option(
        "ssl_ciphers",
        "str",
        "OpenSSL cipher list.",
        _both(_http("ssl_ciphers")),
        "HTTPOptions.ssl_ciphers",
        ("--ssl-ciphers",),
    ),
)


def options_for(command: str) -> tuple[Option, ...]:
    """The rows `command` takes, in the table's order (which is also the help's)."""
    return tuple(option for option in OPTIONS if command in option.defaults)
