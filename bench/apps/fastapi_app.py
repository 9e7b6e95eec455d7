"""The benchmark app on FastAPI (an optional anchor)."""

from types import SimpleNamespace

from fastapi import FastAPI as App
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
