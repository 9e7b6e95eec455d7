"""ServerErrorMiddleware: the last line of defence, outermost in an App's stack.

An exception nobody handled becomes a 500 response (if no response has started yet) and is then
re-raised, so the server still logs it with its traceback. With `debug=True` the 500 shows the
traceback: an HTML page for browsers (every piece of it escaped, since exception messages and
source lines can contain request data) or plain text for everything else.

The HTML page puts the user's frames first, open with their source, and folds the framework's
(asgiforge, the standard library, installed packages such as anyio) into one ``<details>``: a
handler's error otherwise sits below a dozen frames of routing and middleware, off-screen.
Which file is whose is decided by its path (`is_framework_file`), as for import errors.
"""

from __future__ import annotations

import html
import os
import traceback
from collections.abc import Callable
from typing import Any

from asgiforge.runtime._exception_handler import SendTracker
from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.concurrency import run_in_threadpool
from asgiforge.runtime.middleware.body_limit import answered_further_out
from asgiforge.runtime.types import ASGIApp, Receive, Scope, Send

__all__ = ["ServerErrorMiddleware"]

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>500 Server Error: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.4em; color: #b00020; }}
.frame {{ margin: 1em 0; border: 1px solid #ddd; border-radius: 4px; }}
.where {{ background: #f4f4f4; padding: .4em .8em; font-family: monospace; }}
pre {{ margin: 0; padding: .4em .8em; overflow-x: auto; }}
.line {{ background: #fff3b0; }}
details.framework {{ margin: 1.5em 0; }}
details.framework > summary {{ cursor: pointer; color: #555; }}
</style>
</head>
<body>
<h1>500 Server Error</h1>
<h2>{title}</h2>
<p>Traceback, most recent call last. This page is shown because the app runs with
<code>debug=True</code>; never enable debug in production.</p>
{frames}
{framework}
</body>
</html>
"""


_FOLDED = """<details class="framework">
<summary>{count} framework frame{plural} (asgiforge, standard library, installed packages),
in call order</summary>
{frames}
</details>"""


# asgiforge's own package directory and the standard library's: computed from module paths,
# without I/O (the page is built inside the event loop, where a file read would block it).
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_STDLIB_DIR = os.path.dirname(os.path.abspath(os.__file__))
_FRAMEWORK_DIRS = (os.path.join(_PACKAGE_DIR, ""), os.path.join(_STDLIB_DIR, ""))
_INSTALLED = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")


def is_framework_file(filename: str) -> bool:
    """Not the user's code: asgiforge, the standard library, an installed package (anything in
    a ``site-packages``), or a frame without a file (``<frozen importlib._bootstrap>``)."""
    if filename.startswith("<"):
        return True
    # normpath, not abspath: no `getcwd()` call in the event loop; a relative path is below the
    # working directory, the user's project, and so counts as the user's.
    path = os.path.normpath(filename)
    return path.startswith(_FRAMEWORK_DIRS) or any(part in path for part in _INSTALLED)


def _headers_accept_html(scope: Scope) -> bool:
    for key, value in scope.get("headers") or ():
        if key == b"accept":
            return b"text/html" in value
    return False


class ServerErrorMiddleware:
    """500 on unhandled errors; `handler(request, exc)` may supply the response instead.

    Only HTTP is handled: a websocket's failure is the server's to report (it closes with
    1011), and other scope types pass straight through.
    """

    def __init__(
        self,
        app: ASGIApp,
        handler: Callable[..., Any] | None = None,
        debug: bool = False,
    ) -> None:
        self.app = app
        self.handler = handler
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracker = SendTracker(send)
        try:
            await self.app(scope, receive, tracker)
        except Exception as exc:
            await self.respond_to_error(exc, tracker.started, scope, receive, send)
            # Re-raise so the server logs the error (and the test client can surface it).
            raise

    async def respond_to_error(
        self, exc: Exception, started: bool, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Send the 500 for `exc`, unless the response had already `started` (or `exc` is a
        body-limit refusal that the limiter around this app answers with its 413).

        A custom `handler` runs even when the response had started (an error in a background
        task, say), as in Starlette: it is where apps report errors, so it must see them all.
        """
        if answered_further_out(exc, scope):
            return
        if not started:
            response = await self._response_for(scope, exc)
            await response(scope, receive, send)
        elif self.handler is not None and not self.debug:
            await self._response_for(scope, exc)

    async def _response_for(self, scope: Scope, exc: Exception) -> Any:
        from asgiforge.runtime.requests import Request

        request = Request(scope)
        if self.debug:
            return self.debug_response(request, exc)
        if self.handler is None:
            return self.error_response(request, exc)
        if is_async_callable(self.handler):
            return await self.handler(request, exc)
        return await run_in_threadpool(self.handler, request, exc)

    def error_response(self, request: Any, exc: Exception) -> Any:
        """The production 500: a fixed text that reveals nothing about the error."""
        from asgiforge.runtime.responses import PlainTextResponse

        return PlainTextResponse("Internal Server Error", status_code=500)

    def debug_response(self, request: Any, exc: Exception) -> Any:
        """The debug 500: the traceback as HTML for browsers, plain text otherwise."""
        from asgiforge.runtime.responses import HTMLResponse, PlainTextResponse

        scope = getattr(request, "scope", request)
        if _headers_accept_html(scope):
            return HTMLResponse(self.generate_html(exc), status_code=500)
        return PlainTextResponse(self.generate_plain_text(exc), status_code=500)

    def generate_plain_text(self, exc: BaseException) -> str:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def generate_html(self, exc: BaseException, limit: int = 7) -> str:
        """The debug page; `limit` lines of source context around each frame's line.

        The user's frames come first and open; the framework's follow, folded. When no frame
        is the user's (an error inside the framework itself), every frame is shown open.
        """
        title = html.escape(f"{type(exc).__name__}: {exc}")
        stack = traceback.extract_tb(exc.__traceback__)
        users = [frame for frame in stack if not is_framework_file(frame.filename)]
        if not users:
            frames = "\n".join(self._frame_html(frame, limit) for frame in stack)
            return _PAGE.format(title=title, frames=frames, framework="")
        others = [frame for frame in stack if is_framework_file(frame.filename)]
        folded = ""
        if others:
            folded = _FOLDED.format(
                count=len(others),
                plural="" if len(others) == 1 else "s",
                frames="\n".join(self._frame_html(frame, limit) for frame in others),
            )
        frames = "\n".join(self._frame_html(frame, limit) for frame in users)
        return _PAGE.format(title=title, frames=frames, framework=folded)

    @staticmethod
    def _frame_html(frame: traceback.FrameSummary, limit: int) -> str:
        import linecache

        where = html.escape(f"{frame.filename}, line {frame.lineno}, in {frame.name}")
        lineno = frame.lineno or 0
        first = max(lineno - limit // 2, 1)
        rows = []
        for number in range(first, first + limit):
            text = linecache.getline(frame.filename, number)
            if not text and number > lineno:
                break
            css = ' class="line"' if number == lineno else ""
            rows.append(f"<pre{css}>{number:>5} {html.escape(text.rstrip())}</pre>")
        return f'<div class="frame"><div class="where">{where}</div>{"".join(rows)}</div>'
