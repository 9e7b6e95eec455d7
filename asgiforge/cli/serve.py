"""`asgiforge serve`: the production multi-worker server (a thin shell over the master).

Parse → build `ServeOptions` (which check themselves) and resolve the app → `asgiforge.server.run`
with ``fresh_interpreter``: this process then becomes the master alone (same PID; see
`asgiforge.server.serve.master_exec`), which configures logging and reports errors as this CLI
would, so every mistake the CLI can see is reported here, before anything starts. Every default
shown here is read from the options dataclasses, where it is stated.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from asgiforge.cli._params import (
    APP_DIR,
    FACTORY,
    LOG_LEVEL,
    ROOT_PATH,
    AppArgument,
    AppDirOption,
    FactoryOption,
    LogLevelOption,
    RootPathOption,
)
from asgiforge.server.options import LOOPS, HeadLimits, HTTPOptions, field_default
from asgiforge.server.serve.options import ServeOptions
from asgiforge.server.sockets import DEFAULT_HOST, DEFAULT_PORT

if TYPE_CHECKING:
    from asgiforge.server.options import AppTarget

_HTTP = HTTPOptions()
_LIMITS = HeadLimits()


def register(app: typer.Typer) -> None:
    """Attach the `serve` command to the root CLI."""
    app.command(
        "serve",
        help=(
            "Run APP in production: a master owns the sockets and supervises --workers uvicorn "
            "workers (HUP: rolling restart, TTIN/TTOU: scale, TERM/INT: graceful stop)."
        ),
    )(serve)


def serve(
    app: AppArgument = None,
    host: Annotated[
        str | None, typer.Option(help=f"Interface to bind \\[default: {DEFAULT_HOST}].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(envvar="PORT", help=f"Port to bind \\[default: {DEFAULT_PORT}].")
    ] = None,
    bind: Annotated[
        list[str] | None,
        typer.Option("--bind", "-b", help="host:port, \\[v6]:port or unix:/path; repeatable."),
    ] = None,
    fd: Annotated[
        list[int] | None, typer.Option(help="Listen on an inherited socket descriptor.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            envvar="WEB_CONCURRENCY",
            help="Worker processes \\[default: WEB_CONCURRENCY, else the CPU count].",
        ),
    ] = None,
    factory: FactoryOption = FACTORY,
    loop: Annotated[str, typer.Option(help=f"Event loop: {', '.join(LOOPS)}.")] = _HTTP.loop,
    http: Annotated[
        str,
        typer.Option(help="HTTP implementation: auto (httptools if installed), h11, httptools."),
    ] = _HTTP.http,
    proxy_headers: Annotated[
        bool | None,
        typer.Option(help="Read Forwarded / X-Forwarded-* from trusted proxies \\[default: on]."),
    ] = _HTTP.proxy_headers,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxy IPs / CIDR networks to trust, comma-separated, * for all "
            "\\[default: 127.0.0.1,::1]."
        ),
    ] = _HTTP.forwarded_allow_ips,
    root_path: RootPathOption = ROOT_PATH,
    limit_concurrency: Annotated[
        int | None, typer.Option(help="Answer 503 beyond this many connections per worker.")
    ] = _HTTP.limit_concurrency,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = _HTTP.access_log,
    log_level: LogLevelOption = LOG_LEVEL,
    env_file: Annotated[
        Path | None, typer.Option(help="KEY=VALUE file loaded by each worker.")
    ] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    timeout: Annotated[
        float, typer.Option(help="Replace a worker whose event loop is silent this long (s).")
    ] = field_default(ServeOptions, "timeout"),
    graceful_timeout: Annotated[
        float, typer.Option(help="Time in-flight requests get on stop or restart (s).")
    ] = field_default(ServeOptions, "graceful_timeout"),
    max_requests: Annotated[
        int | None, typer.Option(help="Recycle a worker after this many requests.")
    ] = field_default(ServeOptions, "max_requests"),
    max_requests_jitter: Annotated[
        int, typer.Option(help="Random 0..J added to --max-requests per worker.")
    ] = field_default(ServeOptions, "max_requests_jitter"),
    max_worker_memory: Annotated[
        float | None, typer.Option(help="Recycle a worker above this resident memory (MB).")
    ] = field_default(ServeOptions, "max_worker_memory_mb"),
    timeout_keep_alive: Annotated[
        int, typer.Option(help="Close an idle keep-alive connection after this long (s).")
    ] = _HTTP.timeout_keep_alive,
    header_timeout: Annotated[
        float,
        typer.Option(help="Disconnect a client that has not sent a complete request head (s)."),
    ] = _LIMITS.header_timeout,
    limit_request_line: Annotated[
        int, typer.Option(help="Longest request target in bytes (414 beyond).")
    ] = _LIMITS.max_request_line,
    limit_request_fields: Annotated[
        int, typer.Option(help="Most header fields in one request (431 beyond).")
    ] = _LIMITS.max_headers,
    limit_request_field_size: Annotated[
        int, typer.Option(help="Longest header field, name and value, in bytes (431 beyond).")
    ] = _LIMITS.max_header_size,
    limit_request_body: Annotated[
        int,
        typer.Option(help="Largest request body in bytes, declared or chunked (413; 0: none)."),
    ] = _LIMITS.max_body_size or 0,
    body_timeout: Annotated[
        float,
        typer.Option(help="Answer 408 and close when a request body stalls this long (s)."),
    ] = _LIMITS.body_timeout,
    ws_max_size: Annotated[
        int, typer.Option(help="Largest WebSocket message in bytes (closed with 1009 beyond).")
    ] = _HTTP.ws_max_size,
    ws_max_unread: Annotated[
        int,
        typer.Option(help="Stop reading a WebSocket whose client leaves this much output unread."),
    ] = _HTTP.ws_max_unread,
    pid: Annotated[Path | None, typer.Option(help="Write the master's PID to this file.")] = None,
    app_dir: AppDirOption = APP_DIR,
) -> None:
    """Parse → build `ServeOptions` → `server.run` → exit with its status."""
    from functools import partial

    from asgiforge import server
    from asgiforge.importer import resolve_target
    from asgiforge.server.sockets import listen_addresses

    http_options = HTTPOptions(
        loop=loop,
        http=http,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        root_path=root_path,
        limit_concurrency=limit_concurrency,
        access_log=access_log,
        log_level=log_level,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        timeout_keep_alive=timeout_keep_alive,
        ws_max_size=ws_max_size,
        ws_max_unread=ws_max_unread,
        limits=HeadLimits(
            max_request_line=limit_request_line,
            max_headers=limit_request_fields,
            max_header_size=limit_request_field_size,
            header_timeout=header_timeout,
            max_body_size=limit_request_body or None,
            body_timeout=body_timeout,
        ),
    )
    binds = listen_addresses(host, port, bind or (), fd or ())
    # Also what SIGHUP runs, so a changed pyproject is picked up by the rolling restart.
    retarget: partial[AppTarget] = partial(
        resolve_target, app, app_dir=app_dir, factory=factory, env_file=env_file
    )
    options = ServeOptions(
        target=retarget(),
        binds=binds,
        http=http_options,
        workers=workers,
        timeout=timeout,
        graceful_timeout=graceful_timeout,
        max_requests=max_requests,
        max_requests_jitter=max_requests_jitter,
        max_worker_memory_mb=max_worker_memory,
        pid_file=pid,
    )
    status = server.run(options, retarget=retarget, fresh_interpreter=True)
    if status:
        raise typer.Exit(status)
