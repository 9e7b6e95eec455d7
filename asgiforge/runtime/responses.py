"""HTTP responses: ASGI apps that send one status line, headers and a body.

Starlette's public API. Subclasses override one hook, `render(content) -> bytes`, and a class
attribute `media_type`. The common case (a small bytes body, no background task) is two `send`
calls and a one-element header list, because it runs once per request.

Headers set by the application are checked when they are set (names must be HTTP tokens,
values free of CR, LF and NUL), so input taken from a user can never split the response (a
`ValueError` names the header).
"""

from __future__ import annotations

import contextlib
import functools
import http.cookies
import json
import math
import os
import stat
import sys
import warnings
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import datetime
from itertools import chain
from mimetypes import guess_type
from secrets import token_hex
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import anyio

from asgiforge.runtime._conditional import (
    MAX_RANGES,
    NOT_MODIFIED_HEADERS,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    if_range_allows,
    is_not_modified,
    parse_range_header,
    request_headers,
    stat_and_read,
    stat_validators,
)
from asgiforge.runtime._utils import current_asyncio_task
from asgiforge.runtime.background import BackgroundTask
from asgiforge.runtime.concurrency import iterate_in_threadpool
from asgiforge.runtime.datastructures import encode_header
from asgiforge.runtime.requests import ClientDisconnect
from asgiforge.runtime.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    import asyncio

    from asgiforge.runtime.datastructures import URL, MutableHeaders

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]

_START = "http.response.start"
_BODY = "http.response.body"
_WS_START = "websocket.http.response.start"
_WS_BODY = "websocket.http.response.body"
_CONTENT_LENGTH = b"content-length"
_CONTENT_TYPE = b"content-type"
_SET_COOKIE = b"set-cookie"


@functools.lru_cache(maxsize=256)
def _content_type(media_type: str, charset: str) -> bytes:
    """`media_type` as a header value, with a charset added for text types (memoised)."""
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type = f"{media_type}; charset={charset}"
    return encode_header("content-type", media_type)[1]


_LENGTHS: dict[int, bytes] = {}
_MAX_CACHED_LENGTH = 16 * 1024


def _length(size: int) -> bytes:
    """`size` as a Content-Length value; small sizes are encoded once and reused."""
    value = _LENGTHS.get(size)
    if value is None:
        value = str(size).encode("latin-1")
        if size < _MAX_CACHED_LENGTH:
            _LENGTHS[size] = value
    return value


# Whole header pairs, shared between responses (tuples are immutable; each response still gets
# its own list): the common response then costs two dict lookups for its two headers.
_LENGTH_PAIRS: dict[int, tuple[bytes, bytes]] = {}
_TYPE_PAIRS: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _length_pair(size: int) -> tuple[bytes, bytes]:
    pair = (_CONTENT_LENGTH, _length(size))
    if size < _MAX_CACHED_LENGTH:
        _LENGTH_PAIRS[size] = pair
    return pair


def _type_pair(media_type: str, charset: str) -> tuple[bytes, bytes]:
    pair = (_CONTENT_TYPE, _content_type(media_type, charset))
    if len(_TYPE_PAIRS) < 256:  # media types are a handful per app; never unbounded
        _TYPE_PAIRS[media_type, charset] = pair
    return pair


class Response:
    """A complete response whose body is known up front.

    `content` is rendered once, at construction, so `Content-Length` can be sent and the
    response can be sent (or inspected in tests) without doing the work twice.
    """

    media_type: str | None = None
    charset = "utf-8"
    _headers: MutableHeaders | None = None  # the `headers` view, built on first use

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        cls = type(self)
        if type(content) is str and cls.render is _RENDER:
            body: bytes | memoryview = content.encode(self.charset)  # render(), inlined
        else:
            body = self.render(content)
        self.body = body
        if headers is None and cls.init_headers is _INIT_HEADERS:
            # init_headers(None), inlined: the common response, once per request.
            status = self.status_code
            if body is not None and status >= 200 and status != 204 and status != 304:
                size = len(body)
                raw = [_LENGTH_PAIRS.get(size) or _length_pair(size)]
            else:
                raw = []
            media_type = self.media_type
            if media_type is not None:
                charset = self.charset
                raw.append(
                    _TYPE_PAIRS.get((media_type, charset)) or _type_pair(media_type, charset)
                )
            self.raw_headers = raw
        else:
            self.init_headers(headers)

    def render(self, content: Any) -> bytes | memoryview:
        """Turn `content` into the body bytes; the one hook subclasses override."""
        kind = type(content)
        if kind is str:
            return content.encode(self.charset)  # type: ignore[no-any-return]
        if kind is bytes:
            return content  # type: ignore[no-any-return]
        if content is None:
            return b""
        if isinstance(content, memoryview):
            # Content-Length counts bytes: a typed view (`'i'`, 4 bytes an item) is cast to
            # bytes, a non-contiguous one (a slice with a step) copied into contiguous bytes.
            return content.cast("B") if content.c_contiguous else content.tobytes()
        if isinstance(content, bytes):
            return content
        return content.encode(self.charset)  # type: ignore[no-any-return]

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Build `raw_headers`, adding `content-length` and `content-type` unless given."""
        raw: list[tuple[bytes, bytes]]
        if headers is None:
            # The common case, kept short: it runs once per request.
            body = getattr(self, "body", None)
            status = self.status_code
            if body is not None and status >= 200 and status != 204 and status != 304:
                size = len(body)
                raw = [_LENGTH_PAIRS.get(size) or _length_pair(size)]
            else:
                raw = []
            media_type = self.media_type
            if media_type is not None:
                charset = self.charset
                raw.append(
                    _TYPE_PAIRS.get((media_type, charset)) or _type_pair(media_type, charset)
                )
            self.raw_headers = raw
            self._headers = None
            return
        raw = [encode_header(k, v) for k, v in headers.items()]
        names = {k for k, _ in raw}
        need_length = _CONTENT_LENGTH not in names
        need_type = _CONTENT_TYPE not in names
        body = getattr(self, "body", None)
        if need_length and body is not None:
            status = self.status_code
            if status >= 200 and status != 204 and status != 304:
                raw.append((_CONTENT_LENGTH, _length(len(body))))
        media_type = self.media_type
        if need_type and media_type is not None:
            raw.append((_CONTENT_TYPE, _content_type(media_type, self.charset)))
        self.raw_headers = raw
        self._headers = None

    @property
    def headers(self) -> MutableHeaders:
        """A mutable view over `raw_headers`, built on first use only."""
        headers = getattr(self, "_headers", None)  # a subclass may skip init_headers()
        if headers is None:
            from asgiforge.runtime.datastructures import MutableHeaders

            headers = self._headers = MutableHeaders(raw=self.raw_headers)
        return headers

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Append a `Set-Cookie` header; values are quoted, attributes are checked.

        `partitioned=True` (CHIPS) needs Python 3.14+, as in Starlette (whose `http.cookies`
        learnt the attribute then); earlier versions raise `ValueError` before any header is set.
        """
        if partitioned and sys.version_info < (3, 14):
            raise ValueError("Partitioned cookies are only supported in Python 3.14 and above.")
        cookie: http.cookies.BaseCookie[str] = http.cookies.SimpleCookie()
        cookie[key] = value  # raises http.cookies.CookieError on an illegal key
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = max_age
        if expires is not None:
            if isinstance(expires, datetime):
                from email.utils import format_datetime  # the email package, only when used

                morsel["expires"] = format_datetime(expires, usegmt=True)
            else:
                morsel["expires"] = expires
        if path is not None:
            morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            if samesite.lower() not in ("strict", "lax", "none"):
                raise ValueError(f"samesite must be 'strict', 'lax' or 'none', not {samesite!r}")
            morsel["samesite"] = samesite
        header = cookie.output(header="").strip()
        if partitioned:
            header += "; Partitioned"
        self.raw_headers.append(encode_header("set-cookie", header))

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Expire the cookie `key` now (same path/domain/partition as it was set with)."""
        self.set_cookie(
            key,
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # a denial response before accept()
            start, body = _WS_START, _WS_BODY
        else:
            start, body = _START, _BODY
        await send({"type": start, "status": self.status_code, "headers": self.raw_headers})
        await send({"type": body, "body": self.body})
        if self.background is not None:
            await self.background()


# What `Response.__init__` compares against to know a subclass kept the default hooks.
_RENDER = Response.render
_INIT_HEADERS = Response.init_headers


class HTMLResponse(Response):
    media_type = "text/html"


class PlainTextResponse(Response):
    media_type = "text/plain"


# --- JSON -------------------------------------------------------------------------------------

_json_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_JSON_ATOMS = frozenset({str, int, bool, type(None)})
_DICT_ONLY = frozenset({dict})
# orjson nests at most 254 levels; deeper values go to the stdlib, which has its own limit.
_ORJSON_MAX_DEPTH = 250


def _orjson_agrees(value: Any, depth: int = 0) -> bool:
    """True when orjson's output for `value` is byte-for-byte the stdlib's.

    Only exact JSON-native types qualify: subclasses, enums, UUIDs, dataclasses and datetimes
    are encoded differently (or refused by the stdlib). Floats agree except NaN/Infinity (orjson
    writes `null`, the stdlib refuses them) and non-zero magnitudes below 1e-4 (orjson writes
    `0.00001`, the stdlib `1e-05`). Dict keys and huge ints need no check here: orjson raises
    for those and the caller falls back.
    """
    kind = type(value)
    if kind in _JSON_ATOMS:
        return True
    if kind is float:
        return value == 0.0 or (abs(value) >= 1e-4 and not math.isinf(value))
    if depth > _ORJSON_MAX_DEPTH:
        return False
    if kind is dict:
        value = value.values()
    elif kind is not list and kind is not tuple:
        return False
    # The walk is Python code over every value, so its common shapes are checked by C loops:
    # a container of atoms in one `issuperset(map(type, ...))`, and a flat dict inside (a row
    # of a list of records) the same way, without a call of its own.
    if _JSON_ATOMS.issuperset(map(type, value)):
        return True
    if _DICT_ONLY.issuperset(map(type, value)) and _JSON_ATOMS.issuperset(
        map(type, chain.from_iterable(map(dict.values, value)))
    ):
        return True  # a list of flat records: the usual API answer, checked without a loop
    for item in value:
        item_kind = type(item)
        if item_kind in _JSON_ATOMS:
            continue
        if item_kind is dict and _JSON_ATOMS.issuperset(map(type, item.values())):
            continue
        if not _orjson_agrees(item, depth + 1):
            return False
    return True


def _stdlib_dumps(content: Any) -> bytes:
    return _json_encoder.encode(content).encode("utf-8")


def _make_dumps() -> Callable[[Any], bytes]:
    """Pick the JSON encoder once, at import: orjson when installed and when it agrees."""
    try:
        import orjson
    except ImportError:
        return _stdlib_dumps
    options = (
        orjson.OPT_PASSTHROUGH_SUBCLASS
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
    )
    orjson_dumps = orjson.dumps

    def dumps(content: Any) -> bytes:
        # A flat dict (the most common body) is checked here, without _orjson_agrees' frame.
        if (
            type(content) is dict and _JSON_ATOMS.issuperset(map(type, content.values()))
        ) or _orjson_agrees(content):
            try:
                return orjson_dumps(content, option=options)  # type: ignore[no-any-return,unused-ignore]
            except TypeError:  # non-str keys, >64-bit ints, lone surrogates, depth: stdlib decides
                pass
        return _stdlib_dumps(content)

    return dumps


_dumps = _make_dumps()


class JSONResponse(Response):
    """Compact JSON (`ensure_ascii=False`, `allow_nan=False`), identical with or without orjson."""

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        cls = type(self)
        if (
            headers is not None
            or media_type is not None
            or cls.render is not _JSON_RENDER
            or cls.init_headers is not _INIT_HEADERS
        ):
            Response.__init__(self, content, status_code, headers, media_type, background)
            return
        # Response.__init__ with render() and init_headers(None) inlined: `return
        # JSONResponse(data)` is the most common line of an API, and each call saved is a frame
        # less per request. The result is the same as the general path's, attribute for
        # attribute (tests/runtime/test_responses.py compares them).
        self.status_code = status_code
        self.background = background
        self.body = body = _dumps(content)
        if status_code >= 200 and status_code != 204 and status_code != 304:
            size = len(body)
            raw = [_LENGTH_PAIRS.get(size) or _length_pair(size)]
        else:
            raw = []
        own_type = self.media_type
        if own_type is not None:
            charset = self.charset
            raw.append(_TYPE_PAIRS.get((own_type, charset)) or _type_pair(own_type, charset))
        self.raw_headers = raw

    def render(self, content: Any) -> bytes:
        return _dumps(content)


_JSON_RENDER = JSONResponse.render


# --- Redirects --------------------------------------------------------------------------------

# Characters kept as they are in a Location; everything else is percent-encoded (as Starlette).
_LOCATION_SAFE = ":/%#?=@[]!$&'()*+,;"


class RedirectResponse(Response):
    """An empty response with a `Location` header; 307 keeps the method and body."""

    def __init__(
        self,
        url: str | URL,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(
            content=b"", status_code=status_code, headers=headers, background=background
        )
        self.raw_headers.append(
            (b"location", quote(str(url), safe=_LOCATION_SAFE).encode("latin-1"))
        )


# --- Streaming --------------------------------------------------------------------------------

Content = str | bytes | memoryview
SyncContentStream = Iterable[Content]
AsyncContentStream = AsyncIterable[Content]
ContentStream = AsyncContentStream | SyncContentStream


def _spec_version(scope: Scope) -> tuple[int, ...]:
    raw = scope.get("asgi", {}).get("spec_version", "2.0")
    try:
        return tuple(int(part) for part in str(raw).split("."))
    except ValueError:
        return (2, 0)


def _unwrap_group(group: BaseExceptionGroup[Any]) -> BaseException:
    """A task group wraps a single failure; re-raise the original so handlers see it."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _websocket_denial_send(send: Send) -> Send:
    """`send` for a response given instead of accepting a WebSocket: the ASGI WebSocket Denial
    Response extension names the same messages `websocket.http.response.*`."""

    async def denial_send(message: Message) -> None:
        kind = message["type"]
        if kind in (_START, _BODY):
            message = {**message, "type": "websocket." + kind}
        await send(message)

    return denial_send


async def _until_disconnect(
    work: Callable[[], Awaitable[None]], listen: Callable[[], Awaitable[None]]
) -> bool:
    """Run `work` until it finishes or `listen` returns (the client sent `http.disconnect`),
    whichever comes first; True when the client left first and `work` was cancelled.

    For servers before ASGI spec 2.4, whose `send` does not fail once the client is gone. On
    asyncio a plain task listens and cancels this one: an anyio task group plus its cancel
    scopes cost more than the rest of a small response. A `receive` that fails only stops the
    listening, never the response.
    """
    host = current_asyncio_task()
    disconnected = False
    if host is not None:
        import asyncio

        async def listen_asyncio() -> None:
            nonlocal disconnected
            try:
                await listen()
            except Exception:
                return
            disconnected = True
            host.cancel()

        listener = asyncio.get_running_loop().create_task(listen_asyncio())
        try:
            await work()
        except asyncio.CancelledError:
            # Ours only if the listener asked for it and nobody else cancelled the task too.
            if not disconnected or host.uncancel() > 0:
                raise
            return True
        finally:
            listener.cancel()
        return False

    try:
        async with anyio.create_task_group() as group:

            async def listen_anyio() -> None:
                nonlocal disconnected
                try:
                    await listen()
                except Exception:
                    return
                disconnected = True
                group.cancel_scope.cancel()

            group.start_soon(listen_anyio)
            await work()
            group.cancel_scope.cancel()
    except BaseExceptionGroup as group_error:
        raise _unwrap_group(group_error) from None
    return disconnected


async def _listen_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# How long a stream on a pre-2.4 server runs before it starts listening for a disconnect.
_LISTEN_AFTER = 0.01


async def _stream_until_disconnect(
    work: Callable[[], Awaitable[None]], listen: Callable[[], Awaitable[None]]
) -> bool:
    """`_until_disconnect` for streams: on asyncio the listener starts only once the stream has
    run for `_LISTEN_AFTER` seconds. Most streams are over by then, and a listener costs far
    more under a real server than its task: its `receive()` makes the server resume reading the
    socket (system calls) and wakes it again when the response ends. A client that leaves is
    still noticed within `_LISTEN_AFTER` of the first moment the stream lets the loop run.
    """
    host = current_asyncio_task()
    if host is None:
        return await _until_disconnect(work, listen)
    import asyncio

    loop = asyncio.get_running_loop()
    disconnected = False
    listener: asyncio.Task[None] | None = None

    async def listen_asyncio() -> None:
        nonlocal disconnected
        try:
            await listen()
        except Exception:
            return
        disconnected = True
        host.cancel()

    def start_listening() -> None:
        nonlocal listener
        listener = loop.create_task(listen_asyncio())

    timer = loop.call_later(_LISTEN_AFTER, start_listening)
    try:
        await work()
    except asyncio.CancelledError:
        # Ours only if the listener asked for it and nobody else cancelled the task too.
        if not disconnected or host.uncancel() > 0:
            raise
        return True
    finally:
        timer.cancel()
        if listener is not None:
            listener.cancel()
    return False


class StreamingResponse(Response):
    """A body produced chunk by chunk by a sync or async iterator of str/bytes.

    Each chunk is sent as soon as it is produced (server-sent events work). A client disconnect
    stops the iterator: on servers implementing ASGI spec 2.4+ `send` raises `OSError` once the
    client is gone (re-raised as `ClientDisconnect`, as in Starlette); for older servers the
    response listens for `http.disconnect` and cancels the stream. The background task runs
    after the body, also when the client left (it is the app's clean-up, as in Starlette).
    """

    body_iterator: AsyncContentStream

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        if isinstance(content, AsyncIterable):
            self.body_iterator = content
        else:
            self.body_iterator = iterate_in_threadpool(content)
        self.status_code = status_code
        self.media_type = self.media_type if media_type is None else media_type
        self.background = background
        self.init_headers(headers)

    async def listen_for_disconnect(self, receive: Receive) -> None:
        await _listen_for_disconnect(receive)

    async def stream_response(self, send: Send) -> None:
        await send({"type": _START, "status": self.status_code, "headers": self.raw_headers})
        charset = self.charset
        async for chunk in self.body_iterator:
            if type(chunk) is not bytes and not isinstance(chunk, bytes | memoryview):
                chunk = chunk.encode(charset)
            await send({"type": _BODY, "body": chunk, "more_body": True})
        await send({"type": _BODY, "body": b"", "more_body": False})

    async def _close_iterator(self) -> None:
        aclose: Callable[[], Awaitable[None]] | None = getattr(self.body_iterator, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # a denial response before accept()
            await self.stream_response(_websocket_denial_send(send))
        elif _spec_version(scope) >= (2, 4):
            try:
                await self.stream_response(send)
            except OSError:  # the client went away: stop producing
                await self._close_iterator()
                raise ClientDisconnect() from None
        elif await _stream_until_disconnect(
            functools.partial(self.stream_response, send),
            functools.partial(self.listen_for_disconnect, receive),
        ):
            await self._close_iterator()
        if self.background is not None:
            await self.background()


# --- Files ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _open_file(path: str | os.PathLike[str]) -> AsyncIterator[anyio.AsyncFile[bytes]]:
    """`anyio.open_file` whose close finishes even when the transfer is cancelled (a client
    disconnect): otherwise the descriptor is left to the garbage collector."""
    file = await anyio.open_file(path, mode="rb")
    try:
        yield file
    finally:
        with anyio.CancelScope(shield=True):
            await file.aclose()


class FileResponse(Response):
    """A file from disk, read in chunks off the event loop.

    Sends `ETag`, `Last-Modified` and `Accept-Ranges: bytes`; answers conditional GET/HEAD with
    304, a GET/HEAD `Range` with 206 (one range) or `multipart/byteranges` (several, merged when
    they overlap), a range past the end with 416 and `Content-Range: bytes */size`, a malformed
    one with 400, and HEAD without a body (see `_conditional`). Uses the server's
    `http.response.pathsend` extension for whole files when it is advertised. `method` is
    accepted for compatibility and unused: the request method is read from the scope.
    """

    chunk_size = 64 * 1024
    # The body, when it was read together with the stat (see read_small_file).
    _content: bytes | None = None
    # A Range header with more ranges than this is ignored (full 200 response), as in Starlette.
    max_ranges = MAX_RANGES

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        method: str | None = None,
        content_disposition_type: str = "attachment",
    ) -> None:
        self.path = path
        self.status_code = status_code
        self.filename = filename
        if method is not None:
            warnings.warn(
                "FileResponse's 'method' parameter is unused: the method comes from the scope.",
                DeprecationWarning,
                stacklevel=2,
            )
        if media_type is None:
            media_type = guess_type(filename or path)[0] or "application/octet-stream"
        self.media_type = media_type
        self.background = background
        self.init_headers(headers)
        self._setdefault(b"accept-ranges", b"bytes")
        if filename is not None:
            quoted = quote(filename)
            if quoted != filename:
                disposition = f"{content_disposition_type}; filename*=utf-8''{quoted}"
            else:
                disposition = f'{content_disposition_type}; filename="{filename}"'
            self._setdefault(*encode_header("content-disposition", disposition))
        self.stat_result = stat_result
        if stat_result is not None:
            self.set_stat_headers(stat_result)

    def _setdefault(self, name: bytes, value: bytes) -> None:
        for key, _ in self.raw_headers:
            if key == name:
                return
        self.raw_headers.append((name, value))

    def _get(self, name: bytes) -> str | None:
        for key, value in self.raw_headers:
            if key == name:
                return value.decode("latin-1")
        return None

    def set_stat_headers(self, stat_result: os.stat_result) -> None:
        """Content-Length, Last-Modified and an ETag derived from mtime and size."""
        etag, last_modified = stat_validators(stat_result.st_mtime, stat_result.st_size)
        self._setdefault(_CONTENT_LENGTH, _length(stat_result.st_size))
        self._setdefault(b"last-modified", last_modified)
        self._setdefault(b"etag", etag)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_http = scope["type"] == "http"
        method = scope.get("method", "GET").upper() if is_http else "GET"
        head_only = method == "HEAD"
        pathsend = is_http and "http.response.pathsend" in scope.get("extensions", {})
        if not is_http:  # a denial response before a WebSocket accept()
            send = _websocket_denial_send(send)
        if self.stat_result is None:
            try:
                # Small files are read in the same worker-thread call as the stat.
                limit = -1 if head_only or pathsend else self.chunk_size
                stat_result, self._content = await anyio.to_thread.run_sync(
                    stat_and_read, self.path, limit
                )
            except FileNotFoundError:
                raise RuntimeError(f"File at path {self.path} does not exist.") from None
            if not stat.S_ISREG(stat_result.st_mode):
                raise RuntimeError(f"File at path {self.path} is not a file.")
            self.set_stat_headers(stat_result)
        else:
            stat_result = self.stat_result
        size = stat_result.st_size
        request = request_headers(scope)

        if request and self.status_code == 200 and method in ("GET", "HEAD"):
            mine = {k.decode("latin-1"): v.decode("latin-1") for k, v in self.raw_headers}
            if is_not_modified(mine, request):
                headers = [(k, v) for k, v in self.raw_headers if k in NOT_MODIFIED_HEADERS]
                await send({"type": _START, "status": 304, "headers": headers})
                await send({"type": _BODY, "body": b""})
                return

        ranges: list[tuple[int, int]] | None = None
        http_range = request.get("range")
        if (
            http_range is not None
            and self.status_code == 200
            and method in ("GET", "HEAD")
            and if_range_allows(
                request.get("if-range"), self._get(b"last-modified"), self._get(b"etag")
            )
        ):
            try:
                ranges = parse_range_header(http_range, size, self.max_ranges)
            except MalformedRangeHeader as exc:
                await PlainTextResponse(exc.content, status_code=400)(scope, receive, send)
                return
            except RangeNotSatisfiable as exc:
                response = PlainTextResponse(
                    status_code=416, headers={"content-range": f"bytes */{exc.max_size}"}
                )
                await response(scope, receive, send)
                return

        send_file: Callable[[], Awaitable[None]]
        if ranges is None:
            if head_only or pathsend or self._content is not None:
                await self._send_whole(send, head_only, pathsend)  # one message: nothing to stop
                send_file = _nothing
            else:
                send_file = functools.partial(self._send_whole, send, False, False)
        elif len(ranges) == 1:
            send_file = functools.partial(self._send_single_range, send, ranges[0], size, head_only)
        else:
            send_file = functools.partial(self._send_multiple_ranges, send, ranges, size, head_only)
        if send_file is not _nothing:
            if not is_http or head_only or _spec_version(scope) >= (2, 4):
                await send_file()
            else:
                await _until_disconnect(
                    send_file, functools.partial(_listen_for_disconnect, receive)
                )
        if self.background is not None:
            await self.background()

    async def _send_whole(self, send: Send, head_only: bool, pathsend: bool) -> None:
        await send({"type": _START, "status": self.status_code, "headers": self.raw_headers})
        if head_only:
            await send({"type": _BODY, "body": b"", "more_body": False})
        elif self._content is not None:
            await send({"type": _BODY, "body": self._content})
        elif pathsend:
            await send({"type": "http.response.pathsend", "path": str(self.path)})
        else:
            chunk_size = self.chunk_size
            async with _open_file(self.path) as file:
                more_body = True
                while more_body:
                    chunk = await file.read(chunk_size)
                    more_body = len(chunk) == chunk_size
                    await send({"type": _BODY, "body": chunk, "more_body": more_body})

    def _headers_without(self, *names: bytes) -> list[tuple[bytes, bytes]]:
        return [(k, v) for k, v in self.raw_headers if k not in names]

    async def _send_single_range(
        self, send: Send, byte_range: tuple[int, int], size: int, head_only: bool
    ) -> None:
        start, end = byte_range
        headers = self._headers_without(_CONTENT_LENGTH)
        headers.append((_CONTENT_LENGTH, str(end - start).encode()))
        headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
        await send({"type": _START, "status": 206, "headers": headers})
        if head_only:
            await send({"type": _BODY, "body": b"", "more_body": False})
            return
        async with _open_file(self.path) as file:
            await file.seek(start)
            await self._send_span(send, file, end - start, last=True)

    async def _send_span(self, send: Send, file: Any, length: int, last: bool) -> None:
        chunk_size = self.chunk_size
        while length > 0:
            chunk = await file.read(min(chunk_size, length))
            if not chunk:
                if not last:  # a part shorter than its Content-Range would corrupt the body
                    raise RuntimeError(f"File at path {self.path} is shorter than expected.")
                break  # the file shrank under us: end the response rather than spin
            length -= len(chunk)
            await send({"type": _BODY, "body": chunk, "more_body": not last or length > 0})
        if last and length > 0:
            await send({"type": _BODY, "body": b"", "more_body": False})

    async def _send_multiple_ranges(
        self, send: Send, ranges: Sequence[tuple[int, int]], size: int, head_only: bool
    ) -> None:
        boundary = token_hex(13)
        content_type = self._get(_CONTENT_TYPE) or "application/octet-stream"
        part_heads = [
            (
                f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
            ).encode("latin-1")
            for start, end in ranges
        ]
        tail = f"--{boundary}--".encode("latin-1")
        length = sum(
            len(h) + (end - start) + 2 for h, (start, end) in zip(part_heads, ranges, strict=True)
        )
        length += len(tail)
        headers = self._headers_without(_CONTENT_LENGTH, _CONTENT_TYPE)
        headers.append((_CONTENT_LENGTH, str(length).encode()))
        headers.append(
            (_CONTENT_TYPE, f"multipart/byteranges; boundary={boundary}".encode("latin-1"))
        )
        await send({"type": _START, "status": 206, "headers": headers})
        if head_only:
            await send({"type": _BODY, "body": b"", "more_body": False})
            return
        async with _open_file(self.path) as file:
            for head, (start, end) in zip(part_heads, ranges, strict=True):
                await send({"type": _BODY, "body": head, "more_body": True})
                await file.seek(start)
                await self._send_span(send, file, end - start, last=False)
                await send({"type": _BODY, "body": b"\r\n", "more_body": True})
        await send({"type": _BODY, "body": tail, "more_body": False})


async def _nothing() -> None:
    pass
