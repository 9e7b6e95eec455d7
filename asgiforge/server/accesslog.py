"""The JSON access log (``--access-log-format json``): one JSON object per request, on stdout.

uvicorn's access line (``127.0.0.1:5000 - "GET / HTTP/1.1" 200``) stays the ``text`` format,
written by uvicorn as before; it carries neither the duration nor the bytes sent, and log
pipelines need a regex to read it. The ``json`` format replaces it with a pure-ASGI wrapper
around the app that sees every request's start and end, so it can time it and count its body:

    {"time": "2026-12-07T20:49:50.320Z", "method": "GET", "path": "/items", "query": "page=2",
     "status": 200, "duration_ms": 1.234, "bytes": 512, "client": "10.0.0.7:51234",
     "http_version": "1.1", "request_id": "4bf92f3577b34da6a3ce929d0e0e4736"}

``query`` is present only when the request had one; ``client`` is null when the server does not
know it (a Unix socket). Lines go to standard output, not to the server's log on standard error,
so the stream a collector parses holds JSON lines and nothing else from the server.

Request ids: the client's (or the proxy's) ``X-Request-ID`` is kept when it is a sane token
(`SANE_ID`: 1 to 128 of ``A-Z a-z 0-9 . _ ~ : / + = -``), so one id follows a request across
services; anything else, or none, gets a fresh random id (128 bits, hex). Either way the response
carries it back in ``X-Request-ID`` (unless the app set that header itself), so a user reporting
an error can quote the id that finds its log line.

Cost: with the access log off, or in ``text`` format, the app is not wrapped at all (`wrap`).
In ``json`` format a request costs one `send` wrapper, two clock reads, a random id when the
client sent none, and one hand-formatted line: about what uvicorn's text line costs
(`bench/accesslog_cost.py`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from json.encoder import encode_basestring_ascii as quote
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send
    from asgiforge.server.options import HTTPOptions

__all__ = ["JsonAccessLog", "configure", "request_id", "wrap"]

LOGGER = "asgiforge.access"
HEADER = b"x-request-id"
SANE_ID = re.compile(rb"[A-Za-z0-9._~:/+=-]{1,128}")

logger = logging.getLogger(LOGGER)


def request_id(headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]) -> bytes:
    """The request's ``X-Request-ID`` when it is a sane token, else a fresh random one."""
    for name, value in headers:
        if name == HEADER:  # ASGI servers give header names in lower case
            if SANE_ID.fullmatch(value):
                return value
            break
    return os.urandom(16).hex().encode()


class _Clock:
    """ISO 8601 in UTC with milliseconds, what log collectors parse without a format string;
    the date and time part is formatted once per second, not once per request."""

    def __init__(self) -> None:
        self.second = -1
        self.prefix = ""

    def __call__(self, epoch: float) -> str:
        second = int(epoch)
        if second != self.second:
            self.second = second
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self.prefix}.{int((epoch - second) * 1000):03d}Z"


class JsonAccessLog:
    """Pure-ASGI wrapper: an HTTP request in, one JSON line out once its response is over.

    Other scope types (lifespan, websocket) pass straight through. If the app raises before it
    started a response, the server answers 500 and that is the status logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._clock = _Clock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        rid = request_id(scope["headers"])
        started = time.time()
        start = time.perf_counter()
        status = 500
        sent = 0

        async def send_logged(message: Message) -> None:
            nonlocal status, sent
            kind = message["type"]
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
            elif kind == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                if not any(name.lower() == HEADER for name, _ in headers):
                    message = {**message, "headers": [*headers, (HEADER, rid)]}
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            duration = (time.perf_counter() - start) * 1000
            # Formatted by hand: json.dumps of a dict costs several times more per line. Every
            # string that can hold request data goes through json's own ASCII string encoder.
            path = quote(scope.get("root_path", "") + scope["path"])
            query = scope.get("query_string", b"")
            query_field = f', "query": {quote(query.decode("latin-1"))}' if query else ""
            client = scope.get("client")
            peer = quote(f"{client[0]}:{client[1]}") if client else "null"
            code = int(status) if isinstance(status, int) else 500  # never a non-number
            logger.info(
                f'{{"time": "{self._clock(started)}", "method": {quote(scope["method"])}, '
                f'"path": {path}{query_field}, "status": {code}, '
                f'"duration_ms": {duration:.3f}, "bytes": {sent}, "client": {peer}, '
                f'"http_version": {quote(scope.get("http_version", "1.1"))}, '
                f'"request_id": "{rid.decode("ascii")}"}}'
            )


def configure(http: HTTPOptions) -> None:
    """The JSON lines' own handler: bare messages on stdout, not the server's log format; at
    INFO, like uvicorn's access lines, so ``--log-level warning`` silences them too."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(http.log_level_number)


def wrap(app: ASGIApp, http: HTTPOptions) -> ASGIApp:
    """`app` wrapped for the JSON access log when that is what `http` asks for, else `app`."""
    if not http.access_log or http.access_log_format != "json":
        return app
    if http.log_level_number > logging.INFO:  # --log-level warning: no line would be written
        return app
    configure(http)
    return JsonAccessLog(app)
