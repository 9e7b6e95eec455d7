from __future__ import annotations

import re
from typing import Any

import pytest

from asgiforge.runtime.middleware.errors import ServerErrorMiddleware
from asgiforge.runtime.responses import PlainTextResponse, Response
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Receive, Scope, Send


async def broken(scope: Scope, receive: Receive, send: Send) -> None:
    raise ValueError("<script>alert('x')</script>")


async def broken_after_start(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise ValueError("too late")


def test_production_500_reveals_nothing_and_reraises() -> None:
    app = ServerErrorMiddleware(broken)
    with pytest.raises(ValueError):
        TestClient(app).get("/")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


def test_debug_html_page_is_escaped() -> None:
    app = ServerErrorMiddleware(broken, debug=True)
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/", headers={"accept": "text/html,*/*"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text
    assert "test_errors.py" in response.text
    assert "raise ValueError" in response.text  # source context of the failing line


def test_debug_plain_text_traceback_for_non_browsers() -> None:
    app = ServerErrorMiddleware(broken, debug=True)
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("Traceback (most recent call last):")
    assert "ValueError: <script>alert('x')</script>" in response.text


def test_custom_handler_async_and_sync() -> None:
    async def async_handler(request: Any, exc: Exception) -> Response:
        return PlainTextResponse(f"async {request.url.path}", status_code=503)

    def sync_handler(request: Any, exc: Exception) -> Response:
        return PlainTextResponse("sync", status_code=500)

    client = TestClient(
        ServerErrorMiddleware(broken, handler=async_handler), raise_server_exceptions=False
    )
    response = client.get("/path")
    assert (response.status_code, response.text) == (503, "async /path")
    client = TestClient(
        ServerErrorMiddleware(broken, handler=sync_handler), raise_server_exceptions=False
    )
    assert client.get("/").text == "sync"


def test_no_second_response_once_started() -> None:
    app = ServerErrorMiddleware(broken_after_start)
    with pytest.raises(ValueError, match="too late"):
        TestClient(app).get("/")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 200


def test_handler_still_sees_an_error_after_the_response_started() -> None:
    # e.g. a failing background task: nothing can be sent, but the app's handler reports it.
    seen: list[str] = []

    def report(request: Any, exc: Exception) -> Response:
        seen.append(str(exc))
        return PlainTextResponse("unused", status_code=500)

    app = ServerErrorMiddleware(broken_after_start, handler=report)
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 200
    assert seen == ["too late"]


@pytest.mark.anyio
async def test_other_scope_types_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        raise ValueError("ws failure is the server's to report")

    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None:
        raise AssertionError("nothing must be sent")

    with pytest.raises(ValueError):
        await ServerErrorMiddleware(app)({"type": "websocket"}, receive, send)
    assert seen == ["websocket"]


def _load_settings(name: str) -> str:
    return {"known": "value"}[name]  # the user's failing line


async def _handler(request: Any) -> Response:
    return PlainTextResponse(_load_settings("DATABASE_URL"))


def _page(app: Any) -> str:
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 500
    return response.text


def test_debug_page_shows_the_users_frames_first_and_folds_the_framework() -> None:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.routing import Route

    page = _page(App(debug=True, routes=[Route("/", _handler)]))
    head, folded = page.split('<details class="framework">')
    # The user's frames, in call order, open with their source, before anything folded.
    assert head.index("in _handler") < head.index("in _load_settings")
    assert "the user&#x27;s failing line" in head
    assert "asgiforge/runtime" not in head
    # The framework's frames are all inside the one <details>, closed by default.
    wheres = re.findall(r'<div class="where">([^,]*),', folded)
    assert len(wheres) >= 3
    assert all("/asgiforge/runtime/" in where for where in wheres), wheres
    assert "</details>" in folded
    assert "<details open" not in page
    assert int(folded.split("<summary>")[1].split()[0]) == len(wheres)


def test_debug_page_without_user_frames_shows_every_frame_open() -> None:
    import json

    try:
        json.loads("{")
    except ValueError as caught:
        assert caught.__traceback__ is not None
        exc = caught.with_traceback(caught.__traceback__.tb_next)  # drop this test's frame
    page = ServerErrorMiddleware(broken, debug=True).generate_html(exc)
    assert "<details" not in page
    assert "json/decoder.py" in page
