"""The uvicorn boundary (`asgiforge.server._uvicorn`) against the uvicorn that is installed.

CI runs `tests/server` with the highest and the lowest uvicorn of the declared range, so each check
here fails the day a uvicorn release the range admits moves one of the internals we rely on; the
real-process tests in `tests/server/serve/` and `tests/security/` then show the behaviour.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest
import uvicorn

from asgiforge.server import _uvicorn


async def _app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never served
    raise AssertionError("not served")


@pytest.mark.parametrize("http", ["auto", "h11", "httptools"])
# "websockets" (the legacy implementation) is left out: importing it warns on recent websockets.
@pytest.mark.parametrize("ws", ["auto", "wsproto", "none"])
@pytest.mark.parametrize("loop", ["auto", "asyncio", "uvloop"])
def test_every_module_named_for_preimport_is_importable(http: str, ws: str, loop: str) -> None:
    names = _uvicorn.preimport_names(http, ws, loop)
    assert "uvicorn.server" in names
    for name in names:
        importlib.import_module(name)
    if http == "h11":
        assert "uvicorn.protocols.http.h11_impl" in names
    if loop == "uvloop":
        assert any("uvloop" in name for name in names)


def test_the_http_protocol_classes_have_the_methods_our_protocols_extend() -> None:
    for cls in (_uvicorn.H11Protocol, _uvicorn.httptools_protocol()):
        assert issubclass(cls, asyncio.Protocol)
        for method in ("data_received", "on_response_complete", "shutdown", "connection_made"):
            assert callable(getattr(cls, method, None)), (cls.__name__, method)


@pytest.mark.parametrize("ws", ["auto", "wsproto"])
def test_the_bounded_websocket_protocol_extends_uvicorns(ws: str) -> None:
    bounded = _uvicorn.bounded_ws_protocol(ws, 256 * 1024)
    assert isinstance(bounded, type)
    assert bounded.__name__.startswith("Bounded")
    base = bounded.__mro__[1]
    assert base.__module__.startswith("uvicorn.protocols.websockets")
    assert bounded.data_received is not base.data_received
    assert callable(getattr(base, "resume_writing", None))


def test_no_websocket_protocol_is_passed_through_as_named() -> None:
    assert _uvicorn.bounded_ws_protocol("none", 1024) == "none"


def test_the_shutdown_timeout_keeps_fractions_of_a_second() -> None:
    config = _uvicorn.Config(_app)
    _uvicorn.set_shutdown_timeout(config, 1.25)
    assert config.timeout_graceful_shutdown == 1.25


def test_swapping_the_app_reaches_later_connections_and_pending_requests() -> None:
    config = _uvicorn.Config(_app)
    config.load()
    original = config.loaded_app

    class Cycle:
        response_started = False
        default_headers: list[tuple[bytes, bytes]] = [(b"server", b"x")]

    class Connection:
        def __init__(self) -> None:
            self.app = original
            self.cycle = Cycle()
            self.pipeline: Any = []

    connection = Connection()
    wrapped: list[Any] = []

    def wrap(app: Any) -> Any:
        wrapped.append(app)
        return ("wrapped", app)

    _uvicorn.swap_app(config, [connection, object()], wrap, (b"connection", b"close"))
    assert wrapped == [original]
    assert config.loaded_app == ("wrapped", original)
    assert connection.app == ("wrapped", original)
    assert (b"connection", b"close") in connection.cycle.default_headers


def test_the_server_state_holds_connections_and_tasks() -> None:
    state = _uvicorn.ServerState()
    assert hasattr(state, "connections") and hasattr(state, "tasks")
    assert _uvicorn.in_flight(state.connections) == 0
    assert _uvicorn.Server is uvicorn.Server


@pytest.mark.parametrize("method", ["h11 handle_events", "httptools on_headers_complete"])
def test_the_methods_that_create_cycles_can_create_ours(method: str) -> None:
    """`with_cycle_class` (the pathsend cycles) needs the method that creates each request's
    cycle to name uvicorn's ``RequestResponseCycle``; the copy names our subclass instead and
    uvicorn's own method is left as it was."""
    impl, name = method.split()
    cls = _uvicorn.H11Protocol if impl == "h11" else _uvicorn.httptools_protocol()
    original = getattr(cls, name)
    made: list[type[Any]] = []

    def wrap(base: type[Any]) -> type[Any]:
        made.append(base)
        return type("Ours", (base,), {})

    copy = _uvicorn.with_cycle_class(original, wrap)
    assert made and made[0].__name__ == "RequestResponseCycle"
    assert copy.__globals__["RequestResponseCycle"].__mro__[1] is made[0]
    assert original.__globals__["RequestResponseCycle"] is made[0]
    assert copy.__code__ is original.__code__
    for attribute in ("send", "scope", "transport", "flow", "response_started"):
        assert attribute in made[0].__init__.__code__.co_names or hasattr(made[0], attribute)
