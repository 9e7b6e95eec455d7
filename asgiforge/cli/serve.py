"""`asgiforge serve`: the production multi-worker server (a thin shell over the master)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from asgiforge.errors import ServeError, UsageError

LOOPS = ("auto", "asyncio", "uvloop")
HTTPS = ("auto", "h11", "httptools")
LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": 5,
}


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
    app: Annotated[
        str | None,
        typer.Argument(
            metavar="[APP]",
            help="module:attr, path/to/file.py, or empty for pyproject / conventions.",
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind [default: 0.0.0.0].")] = None,
    port: Annotated[
        int | None, typer.Option(envvar="PORT", help="Port to bind [default: 8000].")
    ] = None,
    bind: Annotated[
        list[str] | None,
        typer.Option("--bind", "-b", help="host:port, [v6]:port or unix:/path; repeatable."),
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
            help="Worker processes [default: WEB_CONCURRENCY, else the CPU count].",
        ),
    ] = None,
    factory: Annotated[bool, typer.Option(help="APP is a factory returning the app.")] = False,
    loop: Annotated[str, typer.Option(help="Event loop: auto, asyncio, uvloop.")] = "auto",
    http: Annotated[
        str,
        typer.Option(help="HTTP implementation: auto (httptools if installed), h11, httptools."),
    ] = "auto",
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-* from --forwarded-allow-ips.")
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None, typer.Option(help="Comma-separated proxy IPs to trust (default: none).")
    ] = None,
    root_path: Annotated[str, typer.Option(help="ASGI root_path behind a prefix.")] = "",
    limit_concurrency: Annotated[
        int | None, typer.Option(help="Answer 503 beyond this many connections per worker.")
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
    log_level: Annotated[
        str, typer.Option(help="critical, error, warning, info, debug, trace.")
    ] = "info",
    env_file: Annotated[
        Path | None, typer.Option(help="KEY=VALUE file loaded by each worker.")
    ] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    timeout: Annotated[
        float, typer.Option(help="Replace a worker whose event loop is silent this long (s).")
    ] = 30.0,
    graceful_timeout: Annotated[
        float, typer.Option(help="Time in-flight requests get on stop or restart (s).")
    ] = 30.0,
    max_requests: Annotated[
        int | None, typer.Option(help="Recycle a worker after this many requests.")
    ] = None,
    max_requests_jitter: Annotated[
        int, typer.Option(help="Random 0..J added to --max-requests per worker.")
    ] = 0,
    max_worker_memory: Annotated[
        float | None, typer.Option(help="Recycle a worker above this resident memory (MB).")
    ] = None,
    timeout_keep_alive: Annotated[
        int, typer.Option(help="Close an idle keep-alive connection after this long (s).")
    ] = 5,
    header_timeout: Annotated[
        float,
        typer.Option(help="Disconnect a client that has not sent a complete request head (s)."),
    ] = 10.0,
    limit_request_line: Annotated[
        int, typer.Option(help="Longest request target in bytes (414 beyond).")
    ] = 8192,
    limit_request_fields: Annotated[
        int, typer.Option(help="Most header fields in one request (431 beyond).")
    ] = 100,
    limit_request_field_size: Annotated[
        int, typer.Option(help="Longest header field, name and value, in bytes (431 beyond).")
    ] = 16384,
    ws_max_size: Annotated[
        int, typer.Option(help="Largest WebSocket message in bytes (closed with 1009 beyond).")
    ] = 1024 * 1024,
    pid: Annotated[Path | None, typer.Option(help="Write the master's PID to this file.")] = None,
    app_dir: Annotated[Path, typer.Option(help="Directory to import APP from.")] = Path("."),
) -> None:
    """Parse → build `ServeOptions` → run the master → exit with its status."""
    from asgiforge import server
    from asgiforge.server.options import HeadLimits, HTTPOptions
    from asgiforge.server.serve_options import ServeOptions
    from asgiforge.server.sockets import parse_bind, parse_fd, tcp

    if loop not in LOOPS:
        raise UsageError(f"--loop must be one of {', '.join(LOOPS)} (got {loop!r})")
    if http not in HTTPS:
        raise UsageError(f"--http must be one of {', '.join(HTTPS)} (got {http!r})")
    if log_level.lower() not in LOG_LEVELS:
        raise UsageError(f"--log-level must be one of {', '.join(LOG_LEVELS)} (got {log_level!r})")
    for path, flag in ((ssl_certfile, "--ssl-certfile"), (ssl_keyfile, "--ssl-keyfile")):
        if path is not None and not os.access(path, os.R_OK):
            raise ServeError(f"cannot read {flag} {path}")

    addresses = [parse_bind(value) for value in bind or []]
    addresses += [parse_fd(value) for value in fd or []]
    if not addresses or host is not None or port is not None:
        addresses.insert(0, tcp(host or "0.0.0.0", 8000 if port is None else port))
    http_options = HTTPOptions(
        loop=loop,
        http=http,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        root_path=root_path,
        limit_concurrency=limit_concurrency,
        access_log=access_log,
        log_level=log_level.lower(),
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        timeout_keep_alive=timeout_keep_alive,
        ws_max_size=ws_max_size,
        limits=HeadLimits(
            max_request_line=limit_request_line,
            max_headers=limit_request_fields,
            max_header_size=limit_request_field_size,
            header_timeout=header_timeout,
        ),
    )

    def build() -> ServeOptions:
        """Resolve APP afresh: also what SIGHUP runs, so a changed pyproject is picked up."""
        from asgiforge.importer import resolve_target

        target = resolve_target(app, app_dir=app_dir, factory=factory, env_file=env_file)
        return ServeOptions(
            target=target,
            binds=tuple(addresses),
            http=http_options,
            workers=workers if workers is not None else (os.cpu_count() or 1),
            timeout=timeout,
            graceful_timeout=graceful_timeout,
            max_requests=max_requests,
            max_requests_jitter=max_requests_jitter,
            max_worker_memory_mb=max_worker_memory,
            pid_file=pid,
        )

    options = build()
    _configure_logging(LOG_LEVELS[log_level.lower()], access_log)
    status = server.run(options, reload=build)
    if status:
        raise typer.Exit(status)


def _configure_logging(level: int, access_log: bool) -> None:
    """One configuration for master and workers (forked, they inherit it): rich on a TTY."""
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        from asgiforge.cli.output import err

        handler = RichHandler(console=err(), show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("[%(process)d] %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("asgiforge", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(level)
    if not access_log:
        logging.getLogger("uvicorn.access").disabled = True
