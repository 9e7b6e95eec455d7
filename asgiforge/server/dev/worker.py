"""The `asgiforge dev` worker: import the app and serve it under uvicorn on an inherited socket.

The reload supervisor forks this from a warm process (uvicorn, the runtime and the app's
third-party imports already loaded), so a reload costs an import of the user's own modules only.
When the user's code does not import, the worker does not die: it serves a tiny 503 page carrying
the error text on the same socket, so the browser shows what is wrong instead of a refused
connection, and the next save replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiforge.errors import AsgiforgeError
from asgiforge.server import pipes

if TYPE_CHECKING:
    from asgiforge.runtime.types import Receive, Scope, Send
    from asgiforge.server.dev.options import DevOptions, DevReporter


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The app to serve and, when loading failed, the error it is standing in for."""

    app: Any
    error: BaseException | None
    routes: int | None


def error_text(exc: BaseException) -> str:
    """The message and the traceback of the user's exception (the cause, not our wrapper)."""
    cause = exc.__cause__ if isinstance(exc, AsgiforgeError) and exc.__cause__ else exc
    report = traceback.TracebackException.from_exception(cause)
    # Drop the loader's and importlib's frames: noise between "Traceback" and the user's line.
    report.stack = traceback.StackSummary.from_list(
        [frame for frame in report.stack if not _is_loader_frame(frame.filename)]
    )
    header = str(exc) if cause is not exc else f"{type(exc).__name__}: {exc}"
    return header + "\n\n" + "".join(report.format())


def _is_loader_frame(filename: str) -> bool:
    from asgiforge import importer

    return "importlib" in filename or filename == importer.__file__


class ErrorApp:
    """Answers every request with 503 and the load error, until the next save replaces it.

    HTML for browsers, plain text for everything else (curl, tests); WebSockets are refused
    before the handshake completes, which clients see as a 403/503 rather than a hang.
    """

    def __init__(self, title: str, text: str) -> None:
        page = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>503 · {html.escape(title)}</title>"
            "<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#222}"
            "h1{color:#b00020;font-size:1.4rem}pre{background:#fff4f4;border:1px solid #f3c0c0;"
            "padding:1rem;overflow:auto;white-space:pre-wrap}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>asgiforge dev keeps watching: "
            "save a fix and reload this page.</p>"
            f"<pre id=error>{html.escape(text)}</pre></body></html>"
        )
        self._html = page.encode()
        self._text = f"503 {title}\n\n{text}".encode()
        common = [(b"cache-control", b"no-store"), (b"retry-after", b"1")]
        self._html_headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(self._html)).encode()),
            *common,
        ]
        self._text_headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(self._text)).encode()),
            *common,
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1011})
        elif kind == "http":
            accept = b""
            for name, value in scope.get("headers", ()):
                if name == b"accept":
                    accept = value
            wants_html = b"text/html" in accept
            body = self._html if wants_html else self._text
            headers = self._html_headers if wants_html else self._text_headers
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})


def load(options: DevOptions, reporter: DevReporter) -> LoadResult:
    """Import the app (debug on unless disabled); on failure report it and stand in for it."""
    from asgiforge.importer import load_app

    try:
        app = load_app(options.target)
    except AsgiforgeError as exc:
        reporter.load_failed(exc)
        return LoadResult(ErrorApp("the app failed to load", error_text(exc)), exc, None)
    if options.debug and hasattr(app, "debug"):
        try:
            app.debug = True
        except Exception:  # noqa: S110 - a read-only `debug` is the app's business
            pass
    return LoadResult(app, None, count_routes(app))


def count_routes(app: Any) -> int | None:
    try:
        from asgiforge.introspect import collect_routes

        return sum(1 for row in collect_routes(app) if row.kind in {"http", "websocket"})
    except Exception:
        return None


def make_server(app: Any, options: DevOptions, on_ready: Callable[[], None]) -> Any:
    import uvicorn

    from asgiforge.server import _logging, _uvicorn, accesslog

    app = accesslog.wrap(app, options.http)

    class _Server(uvicorn.Server):
        """uvicorn, plus: say when serving, and let go of clients the instant a signal arrives.

        Closing the listener and idle keep-alive connections right away hands every new request
        to the next worker, which shares the socket; in-flight requests, WebSockets and SSE then
        finish (or are cut at ``timeout_graceful_shutdown``) without delaying the new code.
        """

        _af_loop: asyncio.AbstractEventLoop | None = None

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            self._af_loop = asyncio.get_running_loop()
            await super().startup(sockets)
            if self.started:
                on_ready()

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            loop = self._af_loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._af_stop_listening)

        def _af_stop_listening(self) -> None:
            for server in getattr(self, "servers", ()):
                server.close()
            # Idle keep-alive connections close now (browsers reconnect, to the new code);
            # busy ones close after their response; WebSockets get 1012 "service restart";
            # streams (server-sent events) are told their client left, so they end too.
            _uvicorn.shutdown_connections(self.server_state)
            _uvicorn.end_streams(self.server_state)

    # Proxy headers: read by the protocols `uvicorn_kwargs` names (see `serve.worker.run`).
    config = uvicorn.Config(
        app,
        **options.http.uvicorn_kwargs(),
        timeout_graceful_shutdown=max(1, round(options.graceful_timeout)),
    )
    _logging.hush_uvicorn_startup()
    return _Server(config)


def serve(
    sock: socket.socket,
    options: DevOptions,
    reporter: DevReporter,
    report_fd: int,
    announce: Callable[[LoadResult], None] | None = None,
) -> int:
    """Worker body (after fork): load, serve until signalled, tell the supervisor when ready.

    `announce`, given to the workers started before the banner was shown, prints it from
    this process just before it answers its first request, so no access-log line of this
    worker can come before it (the supervisor reading the pipe later could not promise that).

    Returns the exit status; the caller must `os._exit` with it so nothing of the parent's
    (atexit hooks, finally blocks) runs twice.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    if options.target.env_file is not None:
        # Re-read on every reload: the file is watched, the supervisor never loads it itself.
        from asgiforge.importer import load_env_file

        try:
            load_env_file(options.target.env_file)
        except AsgiforgeError as exc:
            reporter.message(str(exc))
    result = load(options, reporter)
    ready = _Reporter(report_fd, options, result, announce)
    server = make_server(result.app, options, ready)
    # A lifespan start-up failure ends `run` with SystemExit, or (uvicorn 0.32) by returning.
    with contextlib.suppress(SystemExit):
        server.run(sockets=[sock])
    if not server.started:
        # Lifespan start-up failed (uvicorn already logged the traceback): show it and wait.
        fallback = ErrorApp(
            "the app's start-up failed",
            "The lifespan start-up raised; the traceback is in the terminal running asgiforge dev.",
        )
        failed = LoadResult(fallback, RuntimeError("lifespan startup failed"), None)
        server = make_server(fallback, options, _Reporter(report_fd, options, failed, announce))
        server.run(sockets=[sock])
    return 0


class _Reporter:
    """Tells the supervisor "serving" (with the time and what was loaded) over a pipe.

    The message is written from a thread so a slow reader can never stall the event loop.
    """

    def __init__(
        self,
        fd: int,
        options: DevOptions,
        result: LoadResult,
        announce: Callable[[LoadResult], None] | None = None,
    ) -> None:
        self._fd = fd
        self._options = options
        self._result = result
        self._announce = announce

    def __call__(self) -> None:
        # Called by uvicorn's start-up, before the event loop runs a single request.
        if self._announce is not None:
            self._announce(self._result)
        details: dict[str, Any] = {
            "announced": self._announce is not None,
            "time": time.time(),
            "ok": self._result.error is None,
            "error": str(self._result.error) if self._result.error else None,
            "routes": self._result.routes,
            "modules": _preloadable_modules(self._options) if self._result.error is None else [],
        }
        data = pipes.encode(pipes.READY, json.dumps(details).encode())
        threading.Thread(target=self._write, args=(data,), daemon=True).start()

    def _write(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            pass


def _preloadable_modules(options: DevOptions) -> list[str]:
    """Modules this worker imported from outside the project: safe for the supervisor to preload.

    Anything under a watched directory or the app dir is the user's code and must be imported
    fresh on every reload, so it is left out.
    """
    roots = [str(d) + os.sep for d in options.project_dirs()]
    names = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name == "__main__" or name.startswith("asgiforge.server.dev"):
            continue
        if any(file.startswith(root) for root in roots):
            continue
        names.append(name)
    return names
