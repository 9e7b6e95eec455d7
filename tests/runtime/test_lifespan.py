from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.lifespan import LifespanHandler, normalize_lifespan
from asgiforge.runtime.responses import JSONResponse
from asgiforge.runtime.routing import Route, Router
from asgiforge.runtime.testclient import TestClient


class FakeServer:
    """Speaks the server side of the lifespan protocol, recording what the app sends."""

    def __init__(self, *, with_state: bool = True) -> None:
        self.incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        self.sent: list[dict[str, Any]] = []
        self.scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}}
        if with_state:
            self.scope["state"] = {}

    async def receive(self) -> dict[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def types(self) -> list[str]:
        return [message["type"] for message in self.sent]


async def read_state(request: Any) -> JSONResponse:
    return JSONResponse({"db": request.state.db})


def test_yielded_state_reaches_requests() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
        events.append(f"start {type(app).__name__}")
        yield {"db": "connected"}
        events.append("stop")

    app = App(routes=[Route("/", read_state)], lifespan=lifespan)
    with TestClient(app) as client:
        assert events == ["start App"]
        assert client.get("/").json() == {"db": "connected"}
    assert events == ["start App", "stop"]


def test_async_generator_function_lifespan() -> None:
    events: list[str] = []

    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        events.append("start")
        yield {"db": "gen"}
        events.append("stop")

    with TestClient(App(routes=[Route("/", read_state)], lifespan=lifespan)) as client:
        assert client.get("/").json()["db"] == "gen"
    assert events == ["start", "stop"]


def test_plain_generator_function_lifespan() -> None:
    events: list[str] = []

    def lifespan(app: Any) -> Iterator[None]:
        events.append("start")
        yield
        events.append("stop")

    with TestClient(App(lifespan=lifespan)):
        assert events == ["start"]
    assert events == ["start", "stop"]


@pytest.mark.anyio
async def test_startup_failure_is_reported_with_the_error_text_and_reraised() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        raise ConnectionError("database unreachable")
        yield  # pragma: no cover

    server = FakeServer()
    with pytest.raises(ConnectionError):
        await App(lifespan=lifespan)(server.scope, server.receive, server.send)
    assert server.types == ["lifespan.startup.failed"]
    assert "ConnectionError: database unreachable" in server.sent[0]["message"]


@pytest.mark.anyio
async def test_shutdown_failure_is_reported() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        raise RuntimeError("flush failed")

    server = FakeServer()
    with pytest.raises(RuntimeError):
        await App(lifespan=lifespan)(server.scope, server.receive, server.send)
    assert server.types == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "RuntimeError: flush failed" in server.sent[1]["message"]


@pytest.mark.anyio
async def test_no_lifespan_completes_both_phases() -> None:
    server = FakeServer()
    await Router()(server.scope, server.receive, server.send)
    assert server.types == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.anyio
async def test_bare_router_passes_itself_to_the_lifespan() -> None:
    received: list[Any] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        received.append(app)
        yield

    router = Router(lifespan=lifespan)
    server = FakeServer()
    await router(server.scope, server.receive, server.send)
    assert received == [router]


@pytest.mark.anyio
async def test_state_without_server_support_fails_startup_clearly() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, int]]:
        yield {"x": 1}

    server = FakeServer(with_state=False)
    with pytest.raises(RuntimeError, match='does not support "state"'):
        await App(lifespan=lifespan)(server.scope, server.receive, server.send)
    assert server.types == ["lifespan.startup.failed"]


@pytest.mark.anyio
async def test_yielding_a_non_mapping_fails_startup_clearly() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[list[int]]:
        yield [1, 2]

    server = FakeServer()
    with pytest.raises(TypeError, match="yield a mapping"):
        await App(lifespan=lifespan)(server.scope, server.receive, server.send)
    assert server.types == ["lifespan.startup.failed"]


@pytest.mark.anyio
async def test_lifespan_returning_a_non_context_manager_fails_startup_clearly() -> None:
    def lifespan(app: Any) -> int:  # returns something that is not a context manager
        return 42

    server = FakeServer()
    handler = LifespanHandler(lifespan)
    with pytest.raises(TypeError, match="not an async context manager"):
        await handler(server.scope, server.receive, server.send, None)
    assert server.types == ["lifespan.startup.failed"]


def test_non_callable_lifespan_is_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="lifespan must be a callable"):
        normalize_lifespan("not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lifespan must be a callable"):
        App(lifespan=42)  # type: ignore[arg-type]


def test_lifespan_context_reassigned_after_construction_is_the_one_that_runs() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def original(app: Any) -> AsyncIterator[None]:  # pragma: no cover - replaced
        events.append("original")
        yield

    @contextlib.asynccontextmanager
    async def replacement(app: Any) -> AsyncIterator[None]:
        events.append("replacement up")
        yield
        events.append("replacement down")

    app = App(lifespan=original)
    app.router.lifespan_context = replacement
    with TestClient(app):
        assert events == ["replacement up"]
    assert events == ["replacement up", "replacement down"]


def test_lifespan_context_is_always_callable_as_in_starlette() -> None:
    # Frameworks compose lifespans by calling `router.lifespan_context(app)` themselves.
    router = Router()
    assert callable(router.lifespan_context)
    manager = router.lifespan_context(router)
    assert hasattr(manager, "__aenter__")
