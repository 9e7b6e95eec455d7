"""The file-serving app of `bench/run.py --only files`, run under `asgiforge serve`.

``/big`` is a `FileResponse` of the file named by ``BENCH_BIG_FILE`` (the 10 MiB download),
``/static/file.txt`` the same `StaticFiles` mount as the other bench apps. ``app`` uses the
server's ``http.response.pathsend`` extension; ``app_no_pathsend`` is the same app behind a
middleware that hides the extension from it, so the two rows differ only in whether the body is
sent by the kernel or read and sent in chunks.
"""

import os
from typing import Any

from asgiforge.runtime.applications import App
from asgiforge.runtime.responses import FileResponse
from asgiforge.runtime.routing import Mount, Route
from asgiforge.runtime.staticfiles import StaticFiles
from bench.apps.common import STATIC_DIR

BIG_FILE = os.environ.get("BENCH_BIG_FILE", "")


async def big(request: Any) -> FileResponse:
    return FileResponse(BIG_FILE, media_type="application/octet-stream")


app = App(
    routes=[
        Route("/big", big),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR)),
    ]
)


async def app_no_pathsend(scope: Any, receive: Any, send: Any) -> None:
    extensions = scope.get("extensions")
    if extensions and "http.response.pathsend" in extensions:
        extensions = {k: v for k, v in extensions.items() if k != "http.response.pathsend"}
        scope = {**scope, "extensions": extensions}
    await app(scope, receive, send)
