"""WSGIMiddleware: serve a WSGI (PEP 3333) application from the ASGI runtime.

The WSGI app is blocking, so it runs in a worker thread. Both directions stream: ``wsgi.input``
pulls request body chunks from ASGI ``receive`` only as the app reads them, and each item the app
yields is sent to the client as soon as it is produced (no buffering of the whole response), so a
large download or upload costs one chunk of memory, not the whole body.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread

from asgiforge.runtime.types import Message, Receive, Scope, Send

__all__ = ["WSGIMiddleware"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


async def _call(receive: Receive) -> Message:
    """Adapt ASGI `receive` (any awaitable) to the coroutine function anyio.from_thread wants."""
    return await receive()


class _InputStream:
    """``wsgi.input``: a blocking, file-like view of the ASGI request body, read on demand."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._buffer = bytearray()
        self._more = True

    def _fill(self) -> bool:
        """Pull one more chunk from the event loop; False once the body is exhausted."""
        if not self._more:
            return False
        message = anyio.from_thread.run(_call, self._receive)
        if message["type"] == "http.request":
            self._buffer += message.get("body", b"")
            self._more = bool(message.get("more_body", False))
        else:  # http.disconnect: no more body will ever come
            self._more = False
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            size = len(self._buffer)
        while len(self._buffer) < size and self._fill():
            pass
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        while True:
            newline = self._buffer.find(b"\n")
            limit = size if size is not None and size >= 0 else None
            if newline >= 0:
                end = newline + 1
                if limit is not None:
                    end = min(end, limit)
                return self.read(end)
            if limit is not None and len(self._buffer) >= limit:
                return self.read(limit)
            if not self._fill():
                return self.read(len(self._buffer))

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


def _path_info(script_name: str, path: str) -> str:
    """PATH_INFO: `path` minus the mount prefix, when `path` is really under it."""
    if path == script_name or path.startswith(script_name.rstrip("/") + "/"):
        return path[len(script_name) :]
    return path


def build_environ(scope: Scope, body: Any) -> dict[str, Any]:
    """Starlette's `build_environ(scope, body)`: the environ for an ASGI http scope.

    `body` (bytes, or a file-like object) becomes ``wsgi.input``. The shape is Starlette's,
    including ``SERVER_PORT`` as the server gave it; `WSGIMiddleware` then makes it PEP 3333
    strict (string port, ``REMOTE_PORT``, errors to stderr) before the WSGI app sees it.
    """
    script_name = scope.get("root_path", "").encode("utf-8").decode("latin-1")
    path = scope["path"].encode("utf-8").decode("latin-1")
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": _path_info(script_name, path),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": server[1],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body) if isinstance(body, bytes | bytearray) else body,
        "wsgi.errors": sys.stdout,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper()
        if "_" in name:
            # "X_Forwarded_For" would collide with "X-Forwarded-For" in the environ; servers
            # like nginx and gunicorn drop such headers to stop that spoofing, and so do we.
            continue
        value = raw_value.decode("latin-1")
        if name == "CONTENT-TYPE":
            key = "CONTENT_TYPE"
        elif name == "CONTENT-LENGTH":
            key = "CONTENT_LENGTH"
        else:
            key = "HTTP_" + name.replace("-", "_")
        if key in environ and key.startswith("HTTP_"):
            environ[key] += "," + value
        else:
            environ[key] = value
    return environ


def _pep3333(scope: Scope, receive: Receive) -> dict[str, Any]:
    """The environ a WSGI app gets: Starlette's, with the types PEP 3333 requires."""
    environ = build_environ(scope, _InputStream(receive))
    server = scope.get("server") or ("localhost", 80)
    environ["SERVER_NAME"] = str(server[0])
    environ["SERVER_PORT"] = str(server[1]) if server[1] is not None else "80"
    environ["wsgi.errors"] = sys.stderr
    client = scope.get("client")
    if client:
        environ["REMOTE_PORT"] = str(client[1])
    return environ


class _Responder:
    """Runs one WSGI call in the worker thread and relays its response to ASGI `send`."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.started = False
        self.exc_info: ExcInfo | None = None

    def start_response(
        self, status: str, response_headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            self.exc_info = exc_info
            if self.started:
                # PEP 3333: too late to change the response; re-raise the app's error.
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise RuntimeError("WSGI start_response() called twice without exc_info")
        code = status.split(" ", 1)[0]
        if not code.isdigit():
            raise ValueError(f"WSGI app gave an invalid status line: {status!r}")
        self.status = int(code)
        self.headers = [
            (name.strip().lower().encode("latin-1"), value.strip().encode("latin-1"))
            for name, value in response_headers
        ]
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy ``write()`` callable: send `data` immediately."""
        if data:
            self._send_body(data, more=True)

    def _send_body(self, data: bytes, more: bool) -> None:
        if not self.started:
            if self.status is None:
                raise RuntimeError("WSGI app did not call start_response() before sending a body")
            self.started = True
            start = {"type": "http.response.start", "status": self.status, "headers": self.headers}
            anyio.from_thread.run(self._send_async, start)
        body = {"type": "http.response.body", "body": data, "more_body": more}
        anyio.from_thread.run(self._send_async, body)

    async def _send_async(self, message: Message) -> None:
        await self._send(message)

    def run(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        result = app(environ, self.start_response)
        try:
            for chunk in result:
                if chunk:
                    self._send_body(chunk, more=True)
            self._send_body(b"", more=False)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


class WSGIMiddleware:
    """Wrap a WSGI application so it can be mounted in an ASGI app (``Mount("/old", app=...)``)."""

    def __init__(self, app: WSGIApp) -> None:
        if not callable(app):
            raise TypeError(f"WSGIMiddleware needs a WSGI callable, got {app!r}")
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            responder = _Responder(send)
            await anyio.to_thread.run_sync(responder.run, self.app, _pep3333(scope, receive))
            if responder.exc_info is not None:
                # The app reported an error with start_response(..., exc_info) and sent its
                # own error page; re-raise it afterwards so the server logs it, as Starlette.
                raise responder.exc_info[1].with_traceback(responder.exc_info[2])
        elif kind == "websocket":
            # WSGI has no websockets; refuse the handshake instead of leaving it hanging.
            await send({"type": "websocket.close", "code": 1000})
        elif kind == "lifespan":
            # A bare WSGI app has nothing to start or stop; acknowledge so servers proceed.
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        else:
            raise RuntimeError(f"WSGIMiddleware cannot handle scope type {kind!r}")
