"""A synchronous test client that drives an ASGI app in-process, without a network.

`TestClient` is an `httpx2.Client` whose transport calls the app directly. The app runs on an
event loop in a helper thread (an anyio blocking portal), so ordinary synchronous tests can talk to
async code. Inside `with TestClient(app) as client:` one loop lives for the whole block and the
app's lifespan runs around it; outside, each request (or websocket session) gets its own loop.

Unlike a client that buffers the whole response, the body is handed to httpx chunk by chunk while
the app produces it, so `client.stream(...)` sees server-sent events one at a time and an endless
stream can be abandoned (the app is then cancelled, as a disconnecting browser would make it).
A plain `client.get(...)` still returns only after the app (and its background tasks) finished.

`AsyncClient` is `httpx2.AsyncClient` that also accepts `app=`, which httpx2 dropped, so
`httpx.AsyncClient(app=app, base_url=...)` examples run with only their import changed.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import warnings
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

try:
    import httpx2
except ModuleNotFoundError:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "asgiforge.runtime.testclient needs httpx2: pip install 'asgiforge[testing]'"
    ) from None

from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.exceptions import StarletteDeprecationWarning
from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send
from asgiforge.runtime.websockets import WebSocketDisconnect

__all__ = [
    "ASGI2App",
    "ASGI3App",
    "ASGIInstance",
    "AsyncClient",
    "TestClient",
    "WebSocketDenialResponse",
    "WebSocketTestSession",
]

# The app shapes the client accepts, under Starlette's names (tests annotate with them).
ASGIInstance = Callable[[Receive, Send], Awaitable[None]]
ASGI2App = Callable[[Scope], ASGIInstance]
ASGI3App = Callable[[Scope, Receive, Send], Awaitable[None]]

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
# How long leaving a websocket session waits for the app to finish after the disconnect message
# before cancelling it. Handlers that read get the disconnect at once and finish well within it;
# only a handler blocked on something else (never reading again) pays this wait.
_WEBSOCKET_CLOSE_GRACE = 0.5

PortalFactory = Callable[[], contextlib.AbstractContextManager[anyio.from_thread.BlockingPortal]]


class _ASGI2Adapter:
    """Runs an ASGI 2 (double-callable) app as an ASGI 3 one, as Starlette's TestClient does."""

    def __init__(self, app: Callable[[Scope], Any]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        instance = self.app(scope)
        await instance(receive, send)


def _as_asgi3(app: Any) -> ASGIApp:
    """ASGI 2 apps are classes (instantiated per scope) or plain sync callables returning one.

    A class whose instances are awaitable (`HTTPEndpoint`, `WebSocketEndpoint`) is an ASGI 3 app:
    calling it with `scope, receive, send` gives the awaitable.
    """
    asgi3 = hasattr(app, "__await__") if inspect.isclass(app) else is_async_callable(app)
    return app if asgi3 else _ASGI2Adapter(app)


class ClientDisconnected(OSError):
    """Raised into the app when it sends on a websocket the test client already closed.

    An `OSError`, like the error uvicorn raises for a gone peer, so `WebSocket.send` turns it into
    `WebSocketDisconnect(1006)` and the handler's usual disconnect path runs.
    """


class WebSocketDenialResponse(httpx2.Response, WebSocketDisconnect):  # type: ignore[misc]
    """The HTTP response an app sent instead of accepting a websocket (`websocket.http.response`).

    Both an `httpx2.Response` (status, headers, body) and a `WebSocketDisconnect`, so tests can
    catch either.
    """

    def __init__(self, status_code: int, headers: list[tuple[bytes, bytes]], content: bytes):
        httpx2.Response.__init__(self, status_code, headers=headers, content=content)
        self.code = 1000
        self.reason = f"websocket denied with HTTP {status_code}"


class _Upgrade(Exception):
    """Carries a websocket session out of the transport to `TestClient.websocket_connect`."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session


def _connection_scope(
    request: httpx2.Request, root_path: str, client: tuple[str, int], state: dict[str, Any]
) -> Scope:
    """The parts of the scope HTTP and websocket connections share, as a server would build it."""
    url = request.url
    scheme = url.scheme
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(scheme, 80)
    return {
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": scheme,
        "path": url.path,
        "raw_path": url.raw_path.split(b"?", 1)[0],
        "root_path": root_path,
        "query_string": url.query,
        "headers": [(key.lower(), value) for key, value in request.headers.raw],
        "client": client,
        "server": (url.host, port),
        "state": state.copy(),
    }


class _HTTPExchange:
    """One request/response exchange with the app, living on the portal's event loop.

    The body travels through a zero-capacity memory stream: each `http.response.body` send
    waits until the test reads that chunk, so a streaming app runs only as far as the test has
    read (backpressure, as over a real socket) and a test can stop reading mid-stream.
    `receive()` reports `http.disconnect` once the response is complete or was abandoned.
    Protocol mistakes (a body before the start, trailers nobody announced...) fail the app's
    `send` with an AssertionError worded as in Starlette's client.
    """

    def __init__(
        self, app: ASGIApp, scope: Scope, request: httpx2.Request, raise_server_exceptions: bool
    ) -> None:
        self.app = app
        self.scope = scope
        self.method = request.method
        self.raise_server_exceptions = raise_server_exceptions
        stream = request.stream
        # An in-memory body is one chunk known up front; anything else is iterated lazily in a
        # worker thread so a generator that blocks between chunks does not block the event loop.
        self._body_in_memory = isinstance(stream, httpx2.ByteStream)
        self._body_iter: Iterator[bytes] = iter(stream)  # type: ignore[arg-type]
        self._request_complete = False
        self.start: Message | None = None
        self.body_complete = False
        self.trailers_expected = False
        self.trailers: list[tuple[bytes, bytes]] = []
        self.debug_info: dict[str, Any] | None = None
        self.error: BaseException | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        self._body_send, self._body_recv = anyio.create_memory_object_stream[tuple[bytes, bool]](0)
        self._start_or_done = anyio.Event()
        self._complete = anyio.Event()
        self._done = anyio.Event()
        self._cancel_scope = anyio.CancelScope()
        task_status.started()
        try:
            with self._cancel_scope:
                await self.app(self.scope, self._receive, self._send)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:
            # BaseException too: pytest's `fail()` inside the app must reach the test, not
            # crash the portal's event loop.
            self.error = exc
        finally:
            self._body_send.close()
            self._start_or_done.set()
            self._done.set()

    async def _read_chunk(self) -> bytes | None:
        if self._body_in_memory:
            return next(self._body_iter, None)
        return await anyio.to_thread.run_sync(next, self._body_iter, None)

    async def _receive(self) -> Message:
        if not self._request_complete:
            if self._body_in_memory:
                self._request_complete = True
                return {"type": "http.request", "body": b"".join(self._body_iter)}
            chunk = await self._read_chunk()
            if chunk is None:
                self._request_complete = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}
        if not self._complete.is_set():
            await self._complete.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            if self.start is None:
                raise AssertionError('Received "http.response.body" without "http.response.start".')
            if self._complete.is_set():
                raise AssertionError('Received "http.response.body" after response completed.')
            if self.body_complete:
                raise AssertionError('Received "http.response.body" after body completed.')
            more_body = message.get("more_body", False)
            if not more_body:
                self.body_complete = True
            # bytes(): a memoryview over a buffer the app reuses must not change after sending.
            chunk = (bytes(message.get("body", b"")), not more_body and not self.trailers_expected)
            try:
                await self._body_send.send(chunk)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                raise ClientDisconnected("the test client closed the response") from None
        elif kind == "http.response.start":
            if self.start is not None:
                raise AssertionError('Received multiple "http.response.start" messages.')
            self.start = message
            self.trailers_expected = bool(message.get("trailers", False))
            self._start_or_done.set()
        elif kind == "http.response.trailers":
            if not self.trailers_expected:
                raise AssertionError(
                    'Received "http.response.trailers" without declaring trailers.'
                )
            if not self.body_complete:
                raise AssertionError('Received "http.response.trailers" before body completed.')
            if self._complete.is_set():
                raise AssertionError('Received "http.response.trailers" after response completed.')
            self.trailers.extend(message.get("headers", []))
            if not message.get("more_trailers", False):
                self._complete.set()
        elif kind == "http.response.debug":
            self.debug_info = message.get("info", {})
        # Anything else (early hints, push) is an extension this client does not advertise;
        # like Starlette's client it is ignored.

    async def wait_for_start(self) -> Message | None:
        """The `http.response.start` message, or None if the app never sent one (500)."""
        await self._start_or_done.wait()
        if self.start is None:
            await self._done.wait()
        return self.start

    def raise_if_failed(self) -> None:
        """Raise the app's error (when the client raises them), once; on the test's thread.

        Never inside a portal call: a BaseException (pytest's `fail()`) raised there would
        tear down the portal's event loop instead of reaching the test.
        """
        if self.error is not None and self.raise_server_exceptions:
            error, self.error = self.error, None
            raise error

    async def next_chunk(self) -> bytes | None:
        """The next body chunk; None at the end, after the app (and its background work) ended."""
        while True:
            try:
                body, final = await self._body_recv.receive()
            except anyio.EndOfStream:
                await self.finish()
                return None  # the caller raises the app's error, if any
            if final:
                self._complete.set()
            if body and self.method != "HEAD":
                return body

    async def finish(self) -> None:
        """Leave the response: an incomplete one is cancelled (the client went away), a complete
        one is waited for (background tasks run to their end)."""
        if not self._done.is_set():
            if not self._complete.is_set():
                self._cancel_scope.cancel()
            await self._done.wait()
        self._body_recv.close()

    async def abort(self) -> None:
        """Cancel the app whatever its state (the client is closing); its error is dropped."""
        self._cancel_scope.cancel()
        await self._done.wait()
        self._body_recv.close()


class _StreamingBody(httpx2.SyncByteStream):
    """The response body as httpx sees it: pulled from the app chunk by chunk through the portal."""

    def __init__(
        self,
        exchange: _HTTPExchange,
        portal: anyio.from_thread.BlockingPortal,
        cleanup: contextlib.ExitStack,
        open_bodies: set[_StreamingBody],
    ) -> None:
        self._exchange = exchange
        self._portal = portal
        self._cleanup = cleanup
        self._open_bodies = open_bodies
        self._closed = False
        open_bodies.add(self)

    def __iter__(self) -> Iterator[bytes]:
        while not self._closed:
            try:
                chunk = self._portal.call(self._exchange.next_chunk)
            except BaseException:
                self._release()
                raise
            if chunk is None:
                self._release()
                self._exchange.raise_if_failed()
                return
            yield chunk

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._open_bodies.discard(self)
        self._cleanup.close()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._portal.call(self._exchange.finish)
        finally:
            self._release()
        self._exchange.raise_if_failed()

    def abort(self) -> None:
        """Cancel the app behind this response (the client is closing with it still open)."""
        if self._closed:
            return
        try:
            self._portal.call(self._exchange.abort)
        finally:
            self._release()


class _TestClientTransport(httpx2.BaseTransport):
    """Turns httpx requests into ASGI connections to the app (websocket URLs become sessions)."""

    def __init__(
        self,
        app: ASGIApp,
        portal_factory: PortalFactory,
        raise_server_exceptions: bool,
        root_path: str,
        client: tuple[str, int],
        app_state: dict[str, Any],
    ) -> None:
        self.app = app
        self.portal_factory = portal_factory
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path
        self.client = client
        self.app_state = app_state
        self._open_bodies: set[_StreamingBody] = set()

    def close(self) -> None:
        """Cancel every response still open: a closing client takes its connections with it.

        The transport stays usable (leaving `with TestClient(app)` does not close the client).
        """
        with contextlib.ExitStack() as stack:
            while self._open_bodies:
                stack.callback(self._open_bodies.pop().abort)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        scope = _connection_scope(request, self.root_path, self.client, self.app_state)
        if request.url.scheme in ("ws", "wss"):
            protocols = request.headers.get("sec-websocket-protocol")
            scope["type"] = "websocket"
            scope["subprotocols"] = (
                [p.strip() for p in protocols.split(",") if p.strip()] if protocols else []
            )
            scope["extensions"] = {"websocket.http.response": {}}
            # A websocket handler's error is always raised, whatever raise_server_exceptions
            # says (as in Starlette): there is no HTTP 500 to turn it into.
            raise _Upgrade(WebSocketTestSession(self.app, scope, self.portal_factory))
        scope["type"] = "http"
        scope["method"] = request.method
        scope["extensions"] = {"http.response.debug": {}, "http.response.trailers": {}}
        exchange = _HTTPExchange(self.app, scope, request, self.raise_server_exceptions)
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(self.portal_factory())
            portal.start_task(exchange.run)
            try:
                start = portal.call(exchange.wait_for_start)
            except BaseException:
                portal.call(exchange.abort)
                raise
            if start is None:
                portal.call(exchange.abort)
                exchange.raise_if_failed()
                if self.raise_server_exceptions:
                    raise AssertionError(
                        "TestClient did not receive any response. "
                        "(The ASGI app returned without sending 'http.response.start'.)"
                    )
                return httpx2.Response(500, headers=[], content=b"", request=request)
            body = _StreamingBody(exchange, portal, stack.pop_all(), self._open_bodies)
        response = httpx2.Response(
            start["status"], headers=list(start.get("headers", [])), stream=body, request=request
        )
        if exchange.trailers_expected:
            # The list itself: trailers the app sends after this point still show up in it.
            response.extensions["http.response.trailers"] = exchange.trailers
        info = exchange.debug_info
        if info is not None:
            response.extensions["http.response.debug"] = info
            if "template" in info:
                response.template = info["template"]  # type: ignore[attr-defined]
            if "context" in info:
                response.context = info["context"]  # type: ignore[attr-defined]
        return response


# What `_client_receive` hands back when the app crashed: the error itself is raised outside
# the portal (a BaseException raised inside a portal call would kill its event loop).
_APP_FAILED = "asgiforge.testclient.app_failed"


class WebSocketTestSession:
    """A websocket conversation with the app, returned by `TestClient.websocket_connect`.

    Use it as a context manager: entering performs the handshake (raising `WebSocketDisconnect`
    if the app closes instead of accepting, or `WebSocketDenialResponse` if it answers with HTTP),
    leaving sends a 1000 close and waits for the handler to finish, re-raising its error.
    """

    def __init__(
        self,
        app: ASGIApp,
        scope: Scope,
        portal_factory: PortalFactory,
        raise_server_exceptions: bool = True,
    ) -> None:
        self.app = app
        self.scope = scope
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] | None = None
        self._portal_factory = portal_factory
        self._raise_server_exceptions = raise_server_exceptions
        self._exit_stack = contextlib.ExitStack()
        self._accepted = False

    # -- the app's side, on the event loop ---------------------------------------------------

    async def _run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        self._to_app_send, self._to_app_recv = anyio.create_memory_object_stream[Message](math.inf)
        self._from_app_send: MemoryObjectSendStream[Message]
        self._from_app_recv: MemoryObjectReceiveStream[Message]
        self._from_app_send, self._from_app_recv = anyio.create_memory_object_stream[Message](
            math.inf
        )
        self._done = anyio.Event()
        self._cancel_scope = anyio.CancelScope()
        self._client_closed = False
        self._disconnect_delivered = False
        self._error: BaseException | None = None
        task_status.started()
        try:
            with self._cancel_scope:
                await self.app(self.scope, self._app_receive, self._app_send)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:  # see _HTTPExchange.run
            self._error = exc
        finally:
            self._from_app_send.close()
            self._to_app_recv.close()
            self._done.set()

    async def _app_receive(self) -> Message:
        if self._disconnect_delivered:
            # The app ignored the disconnect and reads again: nothing will ever come, end it.
            self._cancel_scope.cancel()
            await anyio.lowlevel.checkpoint()
        message = await self._to_app_recv.receive()
        if message["type"] == "websocket.disconnect":
            self._disconnect_delivered = True
        return message

    async def _app_send(self, message: Message) -> None:
        if self._client_closed:
            if message["type"] == "websocket.close":
                return  # closing what the client already closed is harmless, as on a server
            raise ClientDisconnected("the test client closed the websocket")
        self._from_app_send.send_nowait(message)

    async def _client_send(self, message: Message) -> None:
        if message["type"] == "websocket.disconnect":
            self._client_closed = True
        try:
            self._to_app_send.send_nowait(message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the app already returned: like a server, drop what nobody will read

    async def _client_receive(self) -> Message:
        try:
            return await self._from_app_recv.receive()
        except anyio.EndOfStream:
            pass
        await self._done.wait()
        error = self._error
        if error is not None:
            if self._raise_server_exceptions:
                return {"type": _APP_FAILED}  # raised by receive(), on the test's thread
            if not self._accepted:
                return {"type": "websocket.http.response.start", "status": 500, "headers": []}
            return {"type": "websocket.close", "code": 1011, "reason": ""}
        return {
            "type": "websocket.close",
            "code": 1006,
            "reason": "the ASGI app returned without closing the websocket",
        }

    async def _finish(self) -> None:
        if not self._done.is_set():
            with anyio.move_on_after(_WEBSOCKET_CLOSE_GRACE):
                await self._done.wait()
            self._cancel_scope.cancel()
            await self._done.wait()
        self._to_app_send.close()
        self._from_app_recv.close()

    # -- the test's side ------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.portal = self._exit_stack.enter_context(self._portal_factory())
        try:
            self.portal.start_task(self._run)
            self.send({"type": "websocket.connect"})
            message = self.receive()
            self._handshake(message)
        except BaseException:
            self._teardown()
            raise
        return self

    def _handshake(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            self._accepted = True
            self.accepted_subprotocol = message.get("subprotocol")
            self.extra_headers = list(message.get("headers", []))
            return
        if kind == "websocket.close":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason", ""))
        if kind == "websocket.http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
            body = bytearray()
            while True:
                part = self.receive()
                if part["type"] != "websocket.http.response.body":
                    break
                body += part.get("body", b"")
                if not part.get("more_body", False):
                    break
            raise WebSocketDenialResponse(status, headers, bytes(body))
        raise RuntimeError(f"Unexpected ASGI message {kind!r} during the websocket handshake.")

    def _teardown(self) -> None:
        try:
            self.portal.call(self._finish)
        finally:
            self._exit_stack.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._client_closed:
                self.close(1000)
        finally:
            self._teardown()
        error = self._error
        if error is not None and exc is None and self._raise_server_exceptions:
            self._error = None
            raise error

    def send(self, message: Message) -> None:
        """Send a raw ASGI message to the app (e.g. `websocket.receive`)."""
        self.portal.call(self._client_send, message)

    def send_text(self, data: str) -> None:
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            self.send({"type": "websocket.receive", "text": text})
        elif mode == "binary":
            self.send({"type": "websocket.receive", "bytes": text.encode("utf-8")})
        else:
            raise ValueError(f"mode must be 'text' or 'binary', not {mode!r}")

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close from the client side: the app receives `websocket.disconnect` with this code."""
        self.send({"type": "websocket.disconnect", "code": code, "reason": reason})

    def receive(self) -> Message:
        """The next raw ASGI message the app sent; raises the app's error if it crashed."""
        message = self.portal.call(self._client_receive)
        if message["type"] == _APP_FAILED:
            error, self._error = self._error, None
            if error is not None:
                raise error
        return message

    def _receive_data(self) -> Message:
        message = self.receive()
        if message["type"] == "websocket.close":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason", ""))
        return message

    def receive_text(self) -> str:
        message = self._receive_data()
        text = message.get("text")
        if text is None:
            raise TypeError("Expected a text message, the app sent bytes.")
        return str(text)

    def receive_bytes(self) -> bytes:
        message = self._receive_data()
        data = message.get("bytes")
        if data is None:
            raise TypeError("Expected a binary message, the app sent text.")
        return bytes(data)

    def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        if mode == "text":
            return json.loads(self.receive_text())
        if mode == "binary":
            return json.loads(self.receive_bytes())
        raise ValueError(f"mode must be 'text' or 'binary', not {mode!r}")


class _LifespanDriver:
    """Plays the server's half of the ASGI lifespan protocol on the portal's event loop."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self.error: Exception | None = None
        self.supported = True

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        self._to_app_send, self._to_app_recv = anyio.create_memory_object_stream[Message](math.inf)
        self._from_app_send, self._from_app_recv = anyio.create_memory_object_stream[Message](
            math.inf
        )
        task_status.started()
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._to_app_recv.receive, self._app_send)
        except Exception as exc:
            self.error = exc
        finally:
            self._from_app_send.close()
            self._to_app_recv.close()

    async def aclose(self) -> None:
        """Close the server's ends of both streams (the app's ends close when it returns)."""
        self._to_app_send.close()
        self._from_app_recv.close()

    async def _app_send(self, message: Message) -> None:
        self._from_app_send.send_nowait(message)

    async def _next(self) -> Message | None:
        try:
            return await self._from_app_recv.receive()
        except anyio.EndOfStream:
            return None

    async def _until_app_returns(self) -> None:
        while await self._next() is not None:
            pass

    async def _step(self, phase: Literal["startup", "shutdown"]) -> None:
        if not self.supported:
            return
        try:
            self._to_app_send.send_nowait({"type": f"lifespan.{phase}"})
        except anyio.BrokenResourceError:
            pass  # the app already returned; _next() reports how
        message = await self._next()
        if message is None:
            if self.error is not None:
                raise self.error
            # The app returned without answering: it does not speak lifespan; carry on without.
            self.supported = False
            return
        kind = message["type"]
        if kind == f"lifespan.{phase}.failed":
            await self._until_app_returns()
            if self.error is not None:
                raise self.error
            raise RuntimeError(f"Lifespan {phase} failed: {message.get('message', '')}")
        if kind != f"lifespan.{phase}.complete":
            raise RuntimeError(f"Unexpected ASGI message {kind!r} during lifespan {phase}.")
        if phase == "shutdown":
            await self._until_app_returns()
            if self.error is not None:
                raise self.error

    async def startup(self) -> None:
        await self._step("startup")

    async def shutdown(self) -> None:
        await self._step("shutdown")


class TestClient(httpx2.Client):
    """A synchronous `httpx2.Client` for an ASGI app; see the module docstring."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        backend: Literal["asyncio", "trio"] = "asyncio",
        backend_options: dict[str, Any] | None = None,
        cookies: httpx2._types.CookieTypes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self.async_backend: dict[str, Any] = {
            "backend": backend,
            "backend_options": backend_options or {},
        }
        self.app: ASGIApp = _as_asgi3(app)
        self.app_state: dict[str, Any] = {}
        self.portal: anyio.from_thread.BlockingPortal | None = None
        self._lifespan_exits: list[contextlib.ExitStack] = []
        merged_headers = {"user-agent": "testclient"}
        if headers is not None:
            merged_headers.update(headers)
        transport = _TestClientTransport(
            self.app,
            portal_factory=self._portal_factory,
            raise_server_exceptions=raise_server_exceptions,
            root_path=root_path,
            client=client,
            app_state=self.app_state,
        )
        super().__init__(
            base_url=base_url,
            headers=merged_headers,
            transport=transport,
            follow_redirects=follow_redirects,
            cookies=cookies,
        )

    def request(self, method: str, url: httpx2.URL | str, **kwargs: Any) -> httpx2.Response:
        """`httpx2.Client.request`; a `timeout=` warns (as in Starlette): the app runs
        in-process, so no timeout applies and a test relying on one would silently pass."""
        if kwargs.get("timeout", httpx2.USE_CLIENT_DEFAULT) is not httpx2.USE_CLIENT_DEFAULT:
            warnings.warn(
                "You should not use the 'timeout' argument with the TestClient. "
                "See https://github.com/Kludex/starlette/issues/1108 for more information.",
                StarletteDeprecationWarning,
                stacklevel=2,
            )
        return super().request(method, url, **kwargs)

    @contextlib.contextmanager
    def _portal_factory(self) -> Generator[anyio.from_thread.BlockingPortal, None, None]:
        if self.portal is not None:
            yield self.portal
            return
        with anyio.from_thread.start_blocking_portal(**self.async_backend) as portal:
            yield portal

    def websocket_connect(
        self, url: str, subprotocols: Sequence[str] | None = None, **kwargs: Any
    ) -> WebSocketTestSession:
        """Open a websocket to `url` (relative to base_url); use the result as a context manager."""
        target = self._merge_url(url)
        if target.scheme in ("http", "https"):
            target = target.copy_with(scheme="ws" if target.scheme == "http" else "wss")
        headers = dict(kwargs.pop("headers", None) or {})
        # The handshake headers Starlette's client sends, so apps see the same scope.
        headers.setdefault("connection", "upgrade")
        headers.setdefault("sec-websocket-key", "testserver==")
        headers.setdefault("sec-websocket-version", "13")
        if subprotocols is not None:
            headers["sec-websocket-protocol"] = ", ".join(subprotocols)
        try:
            self.request("GET", target, headers=headers, **kwargs)
        except _Upgrade as upgrade:
            return upgrade.session
        raise RuntimeError("Expected a websocket upgrade.")  # pragma: no cover

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            self.portal = portal = stack.enter_context(
                anyio.from_thread.start_blocking_portal(**self.async_backend)
            )

            @stack.callback
            def reset_portal() -> None:
                self.portal = None

            lifespan = _LifespanDriver(self.app, self.app_state)
            portal.start_task(lifespan.run)
            stack.callback(portal.call, lifespan.aclose)
            portal.call(lifespan.startup)
            stack.callback(portal.call, lifespan.shutdown)
            # First on the way out: responses still open are cancelled before the shutdown.
            stack.callback(self._transport.close)
            self._lifespan_exits.append(stack.pop_all())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        self._lifespan_exits.pop().close()


class AsyncClient(httpx2.AsyncClient):
    """`httpx2.AsyncClient` also taking `app=` (served in-process, no lifespan), as httpx did."""

    def __init__(
        self,
        *,
        app: ASGIApp | None = None,
        root_path: str = "",
        raise_app_exceptions: bool = True,
        transport: httpx2.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        if app is not None:
            if transport is not None:
                raise TypeError("AsyncClient takes app= or transport=, not both.")
            transport = httpx2.ASGITransport(
                app=app, root_path=root_path, raise_app_exceptions=raise_app_exceptions
            )
        super().__init__(transport=transport, **kwargs)
