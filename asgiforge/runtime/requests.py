"""The incoming side of a connection: `HTTPConnection` (shared with WebSockets) and `Request`.

Starlette's public API. Every property is lazy and cached: a handler that only reads
`path_params` never builds a URL, Headers or QueryParams object. Errors caused by the client
(bad JSON, a malformed or over-limit form) surface as `HTTPException(400)` so the default
handlers answer 400 rather than 500; errors caused by a missing middleware say which one.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Awaitable, Generator, Iterator, Mapping, Sequence
from functools import cached_property
from http.cookies import CookieError
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, cast

import anyio

from asgiforge.runtime.datastructures import URL, Address, FormData, Headers, QueryParams, State
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import TypeVar as TypeVarWithDefault

__all__ = [
    "ClientDisconnect",
    "HTTPConnection",
    "InvalidJSONBody",
    "MiddlewareNotInstalled",
    "Request",
    "cookie_parser",
    "empty_receive",
    "empty_send",
]

T = TypeVar("T")

# `Request[MyState]` types `request.state` (Starlette 0.52+): a State subclass with annotated
# attributes, or a TypedDict for `request.state["key"]`. The default (plain `Request`) is State.
# TypeVar defaults need Python 3.13 or typing_extensions; only the type checker needs the
# default, so the run time uses a plain TypeVar and depends on nothing extra.
if TYPE_CHECKING:
    StateT = TypeVarWithDefault("StateT", bound=Mapping[str, Any] | State, default=State)
else:
    StateT = TypeVar("StateT", bound=Mapping[str, Any] | State)

# Request headers forwarded with an HTTP/2 server push, so the pushed response matches.
SERVER_PUSH_HEADERS_TO_COPY = frozenset(
    {"accept", "accept-encoding", "accept-language", "cache-control", "user-agent"}
)


_OCT = frozenset("01234567")


def _unquote_cookie(value: str) -> str:
    """Undo RFC 2109 quoting (`"a\\073b"` → `a;b`) in one pass; never raises.

    Written as a single left-to-right scan, so a value made of thousands of backslashes costs
    linear time (the standard library's `_unquote` was quadratic before CVE-2024-7592).
    """
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    out: list[str] = []
    i, n = 0, len(inner)
    while i < n:
        j = inner.find("\\", i)
        if j < 0:
            out.append(inner[i:])
            break
        out.append(inner[i:j])
        octal = inner[j + 1 : j + 4]
        if len(octal) == 3 and octal[0] in "0123" and octal[1] in _OCT and octal[2] in _OCT:
            out.append(chr(int(octal, 8)))
            i = j + 4
            continue
        if j + 1 < n:
            out.append(inner[j + 1])
            i = j + 2
        else:
            out.append("\\")
            i = j + 1
    return "".join(out)


def cookie_parser(cookie_string: str) -> dict[str, str]:
    """Parse a `Cookie` header leniently, as browsers send it; never raises.

    Pairs without `=` are kept under the empty name (as Starlette does) and later duplicates
    win, so a malformed cookie from another app on the domain cannot break the request.
    """
    cookies: dict[str, str] = {}
    for chunk in cookie_string.split(";"):
        key, sep, value = chunk.partition("=")
        if not sep:
            key, value = "", key
        key, value = key.strip(), value.strip()
        if key or value:
            cookies[key] = _unquote_cookie(value)
    return cookies


class ClientDisconnect(Exception):
    """The client went away while the request body was being read."""


class MiddlewareNotInstalled(RuntimeError, AssertionError):
    """`request.session`/`auth`/`user` used without the middleware that provides it.

    A RuntimeError with a message naming the middleware to add. It also derives from
    AssertionError because Starlette raises that here and existing code may catch it.
    """


def _missing(attribute: str, middleware: str) -> NoReturn:
    raise MiddlewareNotInstalled(
        f"request.{attribute} needs {middleware}: add it to the application's middleware "
        f"(e.g. App(middleware=[Middleware({middleware}, ...)]))."
    )


# The run of "[" (and JSON whitespace) a body starts with; see Request.json(). The stdlib parser
# gives up far sooner than _MAX_NESTING (about 1,000 levels on 3.11, 10,000 on 3.13), whatever
# the Python version: a longer run is refused without decoding.
_OPENING_ARRAYS = re.compile(rb"[ \t\n\r\[]*")
_MAX_NESTING = 1_000_000


class InvalidJSONBody(HTTPException, json.JSONDecodeError):
    """`request.json()` got a body that is not valid JSON (or not valid UTF-8).

    It is an `HTTPException(400)`, so an unhandled one becomes a clear 400 response, and also a
    `json.JSONDecodeError` (hence a `ValueError`), so `except ValueError` in user code keeps
    working exactly as with the standard library. `msg`, `doc`, `pos`, `lineno` and `colno`
    describe the error as `JSONDecodeError` does.
    """

    def __init__(self, msg: str, doc: str, pos: int) -> None:
        # Not via HTTPException.__init__: its cooperative super() call would reach
        # JSONDecodeError with the wrong arguments. Set both sides explicitly instead.
        json.JSONDecodeError.__init__(self, msg, doc, pos)
        self.status_code = 400
        self.detail = f"Invalid JSON in request body: {self.args[0]}"
        self.headers = None


async def empty_receive() -> NoReturn:
    raise RuntimeError("Receive channel has not been made available")


async def empty_send(message: Message) -> NoReturn:
    raise RuntimeError("Send channel has not been made available")


class HTTPConnection(Mapping[str, Any], Generic[StateT]):
    """What HTTP requests and WebSocket connections share: URL, headers, cookies, state...

    It is also a read-only mapping over the ASGI scope, as in Starlette.
    """

    def __init__(self, scope: Scope, receive: Receive | None = None) -> None:
        if scope["type"] not in ("http", "websocket"):
            raise ValueError(
                f"HTTPConnection needs an 'http' or 'websocket' scope, not {scope['type']!r}"
            )
        self.scope = scope

    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    # Connections compare by identity (and are hashable), not as mappings.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def app(self) -> Any:
        return self.scope["app"]

    @cached_property
    def url(self) -> URL:
        return URL(scope=self.scope)

    @cached_property
    def base_url(self) -> URL:
        """The URL of the application root (the mount point, with a trailing slash)."""
        scope = self.scope
        root_path: str = scope.get("app_root_path", scope.get("root_path", ""))
        path = root_path if root_path.endswith("/") else root_path + "/"
        base_scope = dict(scope)
        base_scope["path"] = path
        base_scope["query_string"] = b""
        base_scope["root_path"] = root_path
        return URL(scope=base_scope)

    @cached_property
    def headers(self) -> Headers:
        return Headers(scope=self.scope)

    @cached_property
    def query_params(self) -> QueryParams:
        return QueryParams(self.scope.get("query_string", b""))

    @property
    def path_params(self) -> dict[str, Any]:
        return self.scope.get("path_params", {})  # type: ignore[no-any-return]

    @cached_property
    def cookies(self) -> dict[str, str]:
        values = self.headers.getlist("cookie")
        if not values:
            return {}
        try:
            return cookie_parser("; ".join(values))
        except (CookieError, ValueError):  # defensive: a Cookie header never fails a request
            return {}

    @property
    def client(self) -> Address | None:
        host_port = self.scope.get("client")
        if host_port is None:
            return None
        return Address(*host_port)

    @property
    def session(self) -> dict[str, Any]:
        """The session dict; reading it marks it accessed (for `Vary: Cookie`)."""
        if "session" not in self.scope:
            _missing("session", "SessionMiddleware")
        session = self.scope["session"]
        mark_accessed = getattr(session, "mark_accessed", None)
        if mark_accessed is not None:
            mark_accessed()
        return session  # type: ignore[no-any-return]

    @property
    def auth(self) -> Any:
        if "auth" not in self.scope:
            _missing("auth", "AuthenticationMiddleware")
        return self.scope["auth"]

    @property
    def user(self) -> Any:
        if "user" not in self.scope:
            _missing("user", "AuthenticationMiddleware")
        return self.scope["user"]

    @cached_property
    def state(self) -> StateT:
        """Per-request state, seeded from the lifespan state the server copied into the scope."""
        return cast(StateT, State(self.scope.setdefault("state", {})))

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        """The absolute URL of the route called `name`, against this request's base URL."""
        router = self.scope.get("router") or self.scope.get("app")
        if router is None:
            raise RuntimeError(
                "The `url_for` method can only be used inside a Starlette application or with "
                "a router. (asgiforge: scope['router'] is not set; use it inside an App or Router.)"
            )
        url_path = router.url_path_for(name, **path_params)
        return url_path.make_absolute_url(base_url=self.base_url)  # type: ignore[no-any-return]


class _AwaitableOrContextManager(Generic[T]):
    """Lets `form()` be used both as `await request.form()` and `async with request.form()`."""

    __slots__ = ("_awaitable", "_value")

    def __init__(self, awaitable: Awaitable[T]) -> None:
        self._awaitable = awaitable
        self._value: Any = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._awaitable.__await__()

    async def __aenter__(self) -> T:
        self._value = await self._awaitable
        return self._value  # type: ignore[no-any-return]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._value.close()


def _media_type(content_type: str | None) -> str:
    if not content_type:
        return ""
    return content_type.partition(";")[0].strip().lower()


class Request(HTTPConnection[StateT]):
    """An HTTP request: the connection plus the method and the body (read once, cached)."""

    # Class-level starting values: one Request is built per routed request, and most never
    # read their body, so these are stored on the instance only once they change.
    _stream_consumed = False
    _is_disconnected = False
    _form: FormData | None = None

    def __init__(self, scope: Scope, receive: Receive = empty_receive, send: Send = empty_send):
        if scope["type"] != "http":
            raise ValueError(f"Request needs an 'http' scope, not {scope['type']!r}")
        self.scope = scope
        self._receive = receive
        self._send = send

    @property
    def method(self) -> str:
        return self.scope["method"]  # type: ignore[no-any-return]

    @property
    def receive(self) -> Receive:
        return self._receive

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """The body chunk by chunk as it arrives (or the cached body if already read)."""
        if hasattr(self, "_body"):
            yield self._body
            yield b""
            return
        if self._stream_consumed:
            raise RuntimeError("Stream consumed: the request body has already been read.")
        while not self._stream_consumed:
            message = await self._receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                if not message.get("more_body", False):
                    self._stream_consumed = True
                if body:
                    yield body
            elif message["type"] == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect()
        yield b""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            chunks = [chunk async for chunk in self.stream()]
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        """The body parsed as JSON; invalid JSON or UTF-8 raises `InvalidJSONBody` (a 400)."""
        if not hasattr(self, "_json"):
            body = await self.body()
            # A body opening with more arrays than any parser nests can only be refused: say so
            # from the bytes, before decoding them into a second full copy as a str (50 MiB of
            # "[" would otherwise cost 100 MiB for a 400). json.loads(bytes) would not help: it
            # decodes to a str internally too.
            opening = _OPENING_ARRAYS.match(body)
            if (
                opening is not None
                and opening.end() > _MAX_NESTING
                and body.count(b"[", 0, opening.end()) > _MAX_NESTING
            ):
                raise InvalidJSONBody("nested too deeply", "", 0)
            try:
                # Decoded strictly first: json.loads(bytes) lets UTF-8-encoded surrogates through
                # ("surrogatepass"), which would only fail later, as a 500, when re-encoded.
                self._json = json.loads(body.decode(json.detect_encoding(body)))
            except json.JSONDecodeError as exc:
                raise InvalidJSONBody(exc.msg, exc.doc, exc.pos) from exc
            except UnicodeDecodeError as exc:
                raise InvalidJSONBody(f"invalid UTF-8 ({exc.reason})", "", exc.start) from exc
            except RecursionError as exc:
                raise InvalidJSONBody("nested too deeply", "", 0) from exc
            except ValueError as exc:
                # int() refuses numbers of more than sys.get_int_max_str_digits() digits.
                raise InvalidJSONBody("number too large", "", 0) from exc
        return self._json

    async def _get_form(self, max_files: Any, max_fields: Any, max_part_size: int) -> FormData:
        if self._form is None:
            if self._stream_consumed and not hasattr(self, "_body"):
                raise RuntimeError("Stream consumed: the request body has already been read.")
            media_type = _media_type(self.headers.get("content-type"))
            if media_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
                from asgiforge.runtime import formparsers

                parser_class: type[formparsers.FormParser | formparsers.MultiPartParser] = (
                    formparsers.MultiPartParser
                    if media_type == "multipart/form-data"
                    else formparsers.FormParser
                )
                parser = parser_class(
                    self.headers,
                    self.stream(),
                    max_files=max_files,
                    max_fields=max_fields,
                    max_part_size=max_part_size,
                )
                try:
                    self._form = await parser.parse()
                except formparsers.MultiPartException as exc:
                    # Under an App it is a 400 for the client; a bare ASGI app using Request
                    # gets the exception itself, as in Starlette.
                    if "app" in self.scope:
                        raise HTTPException(400, detail=exc.message) from exc
                    raise
            else:
                self._form = FormData()
        return self._form

    def form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> _AwaitableOrContextManager[FormData]:
        """The parsed form (urlencoded or multipart); limits over → HTTPException(400).

        Use `async with request.form() as form:` to have uploaded files closed afterwards.
        """
        return _AwaitableOrContextManager(self._get_form(max_files, max_fields, max_part_size))

    async def close(self) -> None:
        """Close uploaded files of a parsed form (temporary files on disk)."""
        if self._form is not None:
            await self._form.close()

    async def is_disconnected(self) -> bool:
        """Poll, without waiting, whether the client has gone away."""
        if not self._is_disconnected:
            message: Message = {}
            with anyio.CancelScope() as scope:
                scope.cancel()
                message = await self._receive()
            if message.get("type") == "http.disconnect":
                self._is_disconnected = True
        return self._is_disconnected

    async def send_push_promise(self, path: str) -> None:
        """HTTP/2 server push of `path`, when the server supports it; otherwise nothing."""
        if "http.response.push" not in self.scope.get("extensions", {}):
            return
        raw_headers: list[tuple[bytes, bytes]] = [
            (name, value)
            for name, value in self.headers.raw
            if name.decode("latin-1") in SERVER_PUSH_HEADERS_TO_COPY
        ]
        await self._send({"type": "http.response.push", "path": path, "headers": raw_headers})

    async def send_early_hints(self, link: str | Sequence[str], /, *additional_links: str) -> None:
        """Send `103 Early Hints` with these `Link` values, when the server supports it.

        Starlette's signature, `send_early_hints(link, *additional_links)`; a list as the first
        argument is also accepted. Uses the ASGI `http.response.early_hint` extension; a no-op
        on servers without it. Values containing CR, LF or NUL are refused with ValueError.
        """
        if "http.response.early_hint" not in self.scope.get("extensions", {}):
            return
        links = [link, *additional_links] if isinstance(link, str) else [*link, *additional_links]
        encoded: list[bytes] = []
        for link in links:
            if "\r" in link or "\n" in link or "\x00" in link:
                raise ValueError(f"Invalid Link value {link!r}: must not contain CR, LF or NUL")
            encoded.append(link.encode("latin-1"))
        await self._send({"type": "http.response.early_hint", "links": encoded})
