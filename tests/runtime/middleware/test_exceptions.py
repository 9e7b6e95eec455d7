from __future__ import annotations

from typing import Any

import pytest

from asgiforge.runtime.exceptions import HTTPException, WebSocketException
from asgiforge.runtime.middleware.exceptions import ExceptionMiddleware
from asgiforge.runtime.responses import JSONResponse, Response
from asgiforge.runtime.routing import Route, Router, WebSocketRoute
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Receive, Scope, Send


def raiser(exc: Exception) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise exc

    return app


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    client = TestClient(ExceptionMiddleware(raiser(HTTPException(status))))
    response = client.get("/")
    assert response.status_code == status
    assert response.content == b""
    assert "content-length" not in response.headers or response.headers["content-length"] == "0"


def test_http_exception_default_response() -> None:
    exc = HTTPException(429, "slow down", headers={"Retry-After": "5"})
    response = TestClient(ExceptionMiddleware(raiser(exc))).get("/")
    assert response.status_code == 429
    assert response.text == "slow down"
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("text/plain")


def test_handler_lookup_follows_the_mro() -> None:
    class Base(Exception):
        pass

    class Child(Base):
        pass

    class GrandChild(Child):
        pass

    async def base_handler(request: Any, exc: Exception) -> Response:
        return Response("base", status_code=400)

    async def child_handler(request: Any, exc: Exception) -> Response:
        return Response("child", status_code=409)

    handlers = {Base: base_handler, Child: child_handler}
    assert TestClient(ExceptionMiddleware(raiser(Base()), handlers)).get("/").text == "base"
    response = TestClient(ExceptionMiddleware(raiser(GrandChild()), handlers)).get("/")
    assert (response.status_code, response.text) == (409, "child")


def test_status_handler_beats_class_handler_for_http_exceptions() -> None:
    async def by_status(request: Any, exc: Exception) -> Response:
        return Response("by status", status_code=404)

    async def by_class(request: Any, exc: Exception) -> Response:
        return Response("by class", status_code=404)

    middleware = ExceptionMiddleware(
        raiser(HTTPException(404)), {HTTPException: by_class, 404: by_status}
    )
    assert TestClient(middleware).get("/").text == "by status"
    other = ExceptionMiddleware(
        raiser(HTTPException(403)), {HTTPException: by_class, 404: by_status}
    )
    assert TestClient(other).get("/").text == "by class"


def test_unhandled_exceptions_propagate() -> None:
    with pytest.raises(KeyError):
        TestClient(ExceptionMiddleware(raiser(KeyError("k")))).get("/")


def test_handler_after_response_started_is_a_clear_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise HTTPException(400)

    with pytest.raises(RuntimeError, match="response had already started"):
        TestClient(ExceptionMiddleware(app)).get("/")


def test_handler_returning_none_sends_nothing_more() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError()

    async def handler(request: Any, exc: Exception) -> None:
        await Response("from handler")(request.scope, request.receive, request._send)

    response = TestClient(ExceptionMiddleware(app, {ValueError: handler})).get("/")
    assert response.text == "from handler"


def test_bad_handler_keys_are_refused() -> None:
    async def handler(request: Any, exc: Exception) -> None: ...

    with pytest.raises(TypeError, match="status code"):
        ExceptionMiddleware(raiser(ValueError()), {"404": handler})
    with pytest.raises(TypeError, match="callable"):
        ExceptionMiddleware(raiser(ValueError()), {404: "nope"})


def test_handlers_run_inside_the_route() -> None:
    """The route's own wrapper answers, so an exception never reaches the middleware's catch."""

    async def endpoint(request: Any) -> Response:
        raise HTTPException(418)

    async def teapot(request: Any, exc: Exception) -> JSONResponse:
        return JSONResponse({"endpoint": request.scope["endpoint"].__name__}, status_code=418)

    app = ExceptionMiddleware(Router([Route("/", endpoint)]), {418: teapot})
    assert TestClient(app).get("/").json() == {"endpoint": "endpoint"}


def test_websocket_exception_closes_with_code_and_reason() -> None:
    async def ws(websocket: Any) -> None:
        raise WebSocketException(4001, "nope")

    client = TestClient(ExceptionMiddleware(Router([WebSocketRoute("/ws", ws)])))
    with pytest.raises(Exception) as info, client.websocket_connect("/ws"):
        pass
    assert getattr(info.value, "code", None) == 4001
    assert getattr(info.value, "reason", None) == "nope"


@pytest.mark.anyio
async def test_other_scope_types_pass_through() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None: ...

    await ExceptionMiddleware(app)({"type": "lifespan"}, receive, send)
    assert seen == [{"type": "lifespan"}]
