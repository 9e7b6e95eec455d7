"""One app definition, built from whichever toolkit's classes are passed in.

Starlette and asgiforge get literally the same app code: only the imports differ (in
`starlette_app.py` and `asgiforge_app.py`), which is the porting promise being measured.
"""

from __future__ import annotations

import pathlib
from types import SimpleNamespace
from typing import Any

STATIC_DIR = pathlib.Path(__file__).parent / "static"
_CHUNK = b"x" * 4096


class PassThrough:
    """A pure-ASGI middleware that does nothing: the cost of one layer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def build(tk: SimpleNamespace) -> tuple[Any, Any, Any]:
    async def plaintext(request: Any) -> Any:
        return tk.PlainTextResponse("Hello, world!")

    async def json_route(request: Any) -> Any:
        return tk.JSONResponse({"message": "Hello, world!"})

    async def user(request: Any) -> Any:
        return tk.JSONResponse({"id": request.path_params["id"]})

    async def other(request: Any) -> Any:
        return tk.PlainTextResponse("other")

    async def echo(request: Any) -> Any:
        return tk.JSONResponse(await request.json())

    async def stream(request: Any) -> Any:
        async def chunks() -> Any:
            for _ in range(16):
                yield _CHUNK

        return tk.StreamingResponse(chunks(), media_type="application/octet-stream")

    async def ws(websocket: Any) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except tk.WebSocketDisconnect:
            pass

    def routes() -> list[Any]:
        filler = []
        for i in range(24):
            filler.append(tk.Route(f"/section{i}/items", other))
            filler.append(tk.Route(f"/section{i}/items/{{item_id:int}}", other))
        return [
            tk.Route("/plaintext", plaintext),
            tk.Route("/json", json_route),
            tk.Route("/echo", echo, methods=["POST"]),
            tk.Route("/stream", stream),
            tk.WebSocketRoute("/ws", ws),
            tk.Mount("/static", app=tk.StaticFiles(directory=STATIC_DIR)),
            *filler,
            tk.Route("/users/{id:int}", user),
        ]

    class Timing(tk.BaseHTTPMiddleware):  # type: ignore[misc,name-defined]
        async def dispatch(self, request: Any, call_next: Any) -> Any:
            return await call_next(request)

    app = tk.App(routes=routes())
    app_mw3 = tk.App(routes=routes(), middleware=[tk.Middleware(PassThrough) for _ in range(3)])
    app_basehttp = tk.App(routes=routes(), middleware=[tk.Middleware(Timing)])
    return app, app_mw3, app_basehttp
