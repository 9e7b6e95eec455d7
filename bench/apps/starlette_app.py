"""The benchmark app on Starlette (the anchor)."""

from types import SimpleNamespace

from starlette.applications import Starlette as App
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

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
