"""Endpoint adapters: what a function endpoint's Request / WebSocket session does around it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.responses import PlainTextResponse
from asgiforge.runtime.routing import Route, WebSocketRoute
from asgiforge.runtime.testclient import TestClient


def test_sync_endpoint_runs_in_a_worker_thread() -> None:
    main = threading.get_ident()

    def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse(str(threading.get_ident() != main))

    assert TestClient(App(routes=[Route("/", endpoint)])).get("/").text == "True"


def test_websocket_error_closes_with_1011() -> None:
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        raise RuntimeError("boom")

    client = TestClient(App(routes=[WebSocketRoute("/ws", ws)]))
    with pytest.raises(RuntimeError, match="boom"), client.websocket_connect("/ws") as session:
        message = session.receive()
        assert message == {"type": "websocket.close", "code": 1011, "reason": ""}
