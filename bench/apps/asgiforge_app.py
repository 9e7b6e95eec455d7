"""The benchmark app on asgiforge.runtime (the target)."""

from types import SimpleNamespace

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.base import BaseHTTPMiddleware
from asgiforge.runtime.responses import JSONResponse, PlainTextResponse, StreamingResponse
from asgiforge.runtime.routing import Mount, Route, WebSocketRoute
from asgiforge.runtime.staticfiles import StaticFiles
from asgiforge.runtime.websockets import WebSocketDisconnect
from bench.apps.common import build

toolkit = SimpleNamespace(
    App=App,
    Middleware=Middleware,
    BaseHTTPMiddleware=BaseHTTPMiddleware,
    JSONResponse=JSONResponse,
    PlainTextResponse=PlainTextResponse,
    StreamingResponse=StreamingResponse,
    Mount=Mount,
    Route=Route,
    WebSocketRoute=WebSocketRoute,
    StaticFiles=StaticFiles,
    WebSocketDisconnect=WebSocketDisconnect,
)
app, app_mw3, app_basehttp = build(toolkit)
