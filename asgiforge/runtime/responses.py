"""HTTP responses: ASGI apps that send one status line, headers and a body.

Starlette's public API. Subclasses override one hook, `render(content) -> bytes`, and a class
attribute `media_type`. The common case (a small bytes body, no background task) is two `send`
calls and a one-element header list, because it runs once per request.

Headers set by the application are checked when they are set (names must be HTTP tokens,
values free of CR, LF and NUL), so input taken from a user can never split the response (a
`ValueError` names the header).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.cookies
import json
import math
import os
import stat
import sys
import warnings
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from mimetypes import guess_type
from secrets import token_hex
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import anyio

from asgiforge.runtime.background import BackgroundTask
from asgiforge.runtime.concurrency import iterate_in_threadpool
from asgiforge.runtime.types import Receive, Scope, Send

if TYPE_CHECKING:
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


# RFC 9110 section 5.6.2: a header name is a non-empty token (the rule MutableHeaders applies).
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


@functools.lru_cache(maxsize=512)
def _header_name(name: str) -> bytes:
    """`name` lowered and encoded, if it is a token (memoised: apps reuse a few names)."""
    if not name or not _TOKEN_CHARS.issuperset(name):
        raise ValueError(
            f"Invalid header name {name!r}: names must be non-empty HTTP tokens (letters, digits "
            "and !#$%&'*+-.^_`|~), never CR, LF or NUL characters, a space or a colon"
        )
    return name.lower().encode("latin-1")


def _checked(name: str, value: str) -> tuple[bytes, bytes]:
    """Encode one header pair, refusing a non-token name and CR, LF or NUL in the value.

    Either could smuggle in another header or a second response (response splitting).
    """
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError(
            f"Invalid HTTP header {name!r}: {value!r} (header values must not contain CR, LF "
            "or NUL characters)"
        )
    return _header_name(name), value.encode("latin-1")


@functools.lru_cache(maxsize=256)
def _content_type(media_type: str, charset: str) -> bytes:
    """`media_type` as a header value, with a charset added for text types (memoised)."""
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type = f"{media_type}; charset={charset}"
    return _checked("content-type", media_type)[1]


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
        self.body = self.render(content)
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
        if isinstance(content, bytes | memoryview):
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
            self._headers: MutableHeaders | None = None
            return
        raw = [_checked(k, v) for k, v in headers.items()]
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

        `partitioned=True` (CHIPS) works on every Python version, not only 3.14+.
        """
        cookie: http.cookies.BaseCookie[str] = http.cookies.SimpleCookie()
        cookie[key] = value  # raises http.cookies.CookieError on an illegal key
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = max_age
        if expires is not None:
            if isinstance(expires, datetime):
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
        self.raw_headers.append(_checked("set-cookie", header))

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


class HTMLResponse(Response):
    media_type = "text/html"


class PlainTextResponse(Response):
    media_type = "text/plain"


# --- JSON -------------------------------------------------------------------------------------

_json_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_JSON_ATOMS = frozenset({str, int, bool, type(None)})
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
    for item in value:
        if type(item) not in _JSON_ATOMS and not _orjson_agrees(item, depth + 1):
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
        if _orjson_agrees(content):
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
        super().__init__(content, status_code, headers, media_type, background)

    def render(self, content: Any) -> bytes:
        return _dumps(content)


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


def _current_asyncio_task() -> asyncio.Task[Any] | None:
    """The running asyncio task, or None under another event loop (trio)."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _unwrap_group(group: BaseExceptionGroup[Any]) -> BaseException:
    """A task group wraps a single failure; re-raise the original so handlers see it."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class StreamingResponse(Response):
    """A body produced chunk by chunk by a sync or async iterator of str/bytes.

    Each chunk is sent as soon as it is produced (server-sent events work). A client disconnect
    stops the iterator: on servers implementing ASGI spec 2.4+ `send` raises `OSError` once the
    client is gone, so no extra task is needed; for older servers a task listens for
    `http.disconnect` and cancels the stream.
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
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break

    async def stream_response(self, send: Send) -> None:
        await send({"type": _START, "status": self.status_code, "headers": self.raw_headers})
        charset = self.charset
        async for chunk in self.body_iterator:
            if not isinstance(chunk, bytes | memoryview):
                chunk = chunk.encode(charset)
            await send({"type": _BODY, "body": chunk, "more_body": True})
        await send({"type": _BODY, "body": b"", "more_body": False})

    async def _stream_watching_asyncio(
        self, host: asyncio.Task[Any], receive: Receive, send: Send
    ) -> bool:
        """Stream in this task while a plain asyncio task listens for the disconnect.

        The same behaviour as the task-group path (a disconnect cancels the stream and closes
        the iterator) for a tenth of the cost: an anyio task group plus its cancel scopes cost
        more than the rest of a small streamed response. Returns True when the client left.
        """
        disconnected = False

        async def listen() -> None:
            nonlocal disconnected
            try:
                await self.listen_for_disconnect(receive)
            except Exception:  # a broken receive must not kill a good stream
                return
            disconnected = True
            host.cancel()

        listener = asyncio.get_running_loop().create_task(listen())
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            # Ours only if the listener asked for it and nobody else cancelled the task too.
            if not disconnected or host.uncancel() > 0:
                raise
            await self._close_iterator()
            return True
        finally:
            listener.cancel()
        return False

    async def _close_iterator(self) -> None:
        aclose: Callable[[], Awaitable[None]] | None = getattr(self.body_iterator, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _spec_version(scope) >= (2, 4):
            try:
                await self.stream_response(send)
            except OSError:  # the client went away: stop producing, skip the background task
                await self._close_iterator()
                return
        else:
            host = _current_asyncio_task()
            if host is not None:
                if await self._stream_watching_asyncio(host, receive, send):
                    return
                if self.background is not None:
                    await self.background()
                return
            disconnected = False
            try:
                async with anyio.create_task_group() as group:

                    async def stream() -> None:
                        await self.stream_response(send)
                        group.cancel_scope.cancel()

                    async def listen() -> None:
                        nonlocal disconnected
                        await self.listen_for_disconnect(receive)
                        disconnected = True
                        group.cancel_scope.cancel()

                    group.start_soon(stream)
                    await listen()
            except BaseExceptionGroup as group_error:
                raise _unwrap_group(group_error) from None
            if disconnected:
                await self._close_iterator()
                return
        if self.background is not None:
            await self.background()


# --- Files ------------------------------------------------------------------------------------

_NOT_MODIFIED_HEADERS = frozenset(
    {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"}
)
# More ranges than this in one Range header and the header is ignored (the whole file is sent,
# as RFC 9110 §14.2 allows): it bounds the work and the multipart overhead one request can cause.
MAX_RANGES = 100
# A decimal with more digits than this is beyond any file size; it is never converted to int.
_MAX_DIGITS = 19


class MalformedRangeHeader(Exception):
    def __init__(self, content: str = "Malformed range header.") -> None:
        self.content = content


class RangeNotSatisfiable(Exception):
    def __init__(self, max_size: int) -> None:
        self.max_size = max_size


def _parse_offset(text: str) -> int | None:
    """A non-negative decimal, or None; huge values saturate instead of costing time."""
    text = text.strip(" \t")
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text) > _MAX_DIGITS:
        return sys.maxsize
    return int(text)


def parse_range_header(
    http_range: str, file_size: int, max_ranges: int = MAX_RANGES
) -> list[tuple[int, int]] | None:
    """Parse a `Range` header into sorted, merged, end-exclusive `(start, end)` byte ranges.

    Returns None when the header should be ignored (more than `max_ranges` ranges). Raises
    `MalformedRangeHeader` (→ 400, as Starlette) or `RangeNotSatisfiable` (→ 416). One split and
    one pass over the text, no regular expressions, no int() on huge digit strings, and
    sort-then-merge for overlaps: linear-ish in the header length whatever it contains.
    """
    units, sep, spec = http_range.partition("=")
    if not sep:
        raise MalformedRangeHeader()
    if units.strip(" \t").lower() != "bytes":
        raise MalformedRangeHeader("Only support bytes range")
    if spec.count(",") >= max_ranges:
        return None
    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        first, dash, last = part.partition("-")
        if not dash:
            continue
        start_text = first.strip(" \t")
        end_text = last.strip(" \t")
        if start_text:
            start = _parse_offset(start_text)
            if start is None:
                continue
            if end_text:
                end = _parse_offset(end_text)
                if end is None:
                    continue
                if start > end:
                    raise MalformedRangeHeader("Range header: start must be less than end")
                ranges.append((start, min(end + 1, file_size)))
            else:
                ranges.append((start, file_size))
        else:
            suffix = _parse_offset(end_text)
            if suffix is None:
                continue
            if suffix == 0:  # "bytes=-0" asks for nothing: unsatisfiable
                raise RangeNotSatisfiable(file_size)
            ranges.append((max(file_size - suffix, 0), file_size))
    if not ranges:
        raise MalformedRangeHeader("Range header: range must be requested")
    if any(start >= file_size for start, _ in ranges):
        raise RangeNotSatisfiable(file_size)
    if len(ranges) == 1:
        return ranges
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            if end > last_end:
                merged[-1] = (last_start, end)
        else:
            merged.append((start, end))
    return merged


def _entity_tags(value: str) -> list[str]:
    """The opaque tags of an If-None-Match / If-Range list, weak prefixes removed."""
    tags = []
    for tag in value.split(","):
        tag = tag.strip(" \t")
        if tag.startswith("W/"):
            tag = tag[2:]
        tags.append(tag)
    return tags


def _http_date(value: str) -> datetime | None:
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def is_not_modified(
    response_headers: Mapping[str, str], request_headers: Mapping[str, str]
) -> bool:
    """RFC 9110 §13.1: If-None-Match wins; If-Modified-Since only counts without it."""
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        etag = response_headers.get("etag")
        if etag is None:
            return False
        tags = _entity_tags(if_none_match)
        return "*" in tags or _entity_tags(etag)[0] in tags
    if_modified_since = request_headers.get("if-modified-since")
    last_modified = response_headers.get("last-modified")
    if if_modified_since is None or last_modified is None:
        return False
    since = _http_date(if_modified_since)
    modified = _http_date(last_modified)
    if since is None or modified is None:
        return False
    try:
        return since >= modified
    except TypeError:  # naive vs aware dates
        return False


def _request_headers(scope: Scope) -> dict[str, str]:
    """The conditional/range request headers, read straight from the scope (first wins)."""
    wanted: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        if name in _CONDITIONAL_NAMES:
            wanted.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return wanted


_CONDITIONAL_NAMES = frozenset({b"range", b"if-range", b"if-none-match", b"if-modified-since"})


@functools.lru_cache(maxsize=1024)
def _stat_validators(mtime: float, size: int) -> tuple[bytes, bytes]:
    """(ETag, Last-Modified) for a file's mtime and size, memoised: a static file served many
    times costs one md5 and one date formatting, not one per request."""
    etag = hashlib.md5(f"{mtime}-{size}".encode(), usedforsecurity=False).hexdigest()
    return f'"{etag}"'.encode(), formatdate(mtime, usegmt=True).encode("latin-1")


def read_small_file(
    path: str | os.PathLike[str], expected: os.stat_result, limit: int
) -> bytes | None:
    """The whole content of `path` when it is still the file `expected` describes (same inode,
    size and mtime) and at most `limit` bytes; otherwise None, and the caller streams it.

    Blocking: meant to run in the same worker thread as the `stat`, so a small file costs one
    thread hop instead of four (stat, open, read, close).
    """
    if not stat.S_ISREG(expected.st_mode) or expected.st_size > limit:
        return None
    try:
        with open(path, "rb") as file:
            current = os.fstat(file.fileno())
            if (current.st_ino, current.st_size, current.st_mtime_ns) != (
                expected.st_ino,
                expected.st_size,
                expected.st_mtime_ns,
            ):
                return None
            data = file.read(limit + 1)
    except OSError:
        return None
    return data if len(data) == expected.st_size else None


def _stat_and_read(path: str | os.PathLike[str], limit: int) -> tuple[os.stat_result, bytes | None]:
    stat_result = os.stat(path)
    return stat_result, read_small_file(path, stat_result, limit)


class FileResponse(Response):
    """A file from disk, read in chunks off the event loop.

    Sends `ETag`, `Last-Modified` and `Accept-Ranges: bytes`; answers conditional GET/HEAD with
    304, `Range` with 206 (one range) or `multipart/byteranges` (several, merged when they
    overlap), a range past the end with 416 and `Content-Range: bytes */size`, a malformed one
    with 400, and HEAD without a body. `method` is accepted for compatibility and unused: the
    request method is read from the scope.
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
            media_type = guess_type(filename or path)[0] or "text/plain"
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
            self._setdefault(*_checked("content-disposition", disposition))
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
        etag, last_modified = _stat_validators(stat_result.st_mtime, stat_result.st_size)
        self._setdefault(_CONTENT_LENGTH, _length(stat_result.st_size))
        self._setdefault(b"last-modified", last_modified)
        self._setdefault(b"etag", etag)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET").upper()
        head_only = method == "HEAD"
        if self.stat_result is None:
            try:
                # Small files are read in the same worker-thread call as the stat.
                pathsend = "http.response.pathsend" in scope.get("extensions", {})
                limit = -1 if head_only or pathsend else self.chunk_size
                stat_result, self._content = await anyio.to_thread.run_sync(
                    _stat_and_read, self.path, limit
                )
            except FileNotFoundError:
                raise RuntimeError(f"File at path {self.path} does not exist.") from None
            if not stat.S_ISREG(stat_result.st_mode):
                raise RuntimeError(f"File at path {self.path} is not a file.")
            self.set_stat_headers(stat_result)
        else:
            stat_result = self.stat_result
        size = stat_result.st_size
        request = _request_headers(scope)

        if request and self.status_code == 200 and method in ("GET", "HEAD"):
            mine = {k.decode("latin-1"): v.decode("latin-1") for k, v in self.raw_headers}
            if is_not_modified(mine, request):
                headers = [(k, v) for k, v in self.raw_headers if k in _NOT_MODIFIED_HEADERS]
                await send({"type": _START, "status": 304, "headers": headers})
                await send({"type": _BODY, "body": b""})
                return

        ranges: list[tuple[int, int]] | None = None
        http_range = request.get("range")
        if http_range is not None and self.status_code == 200 and self._range_applies(request):
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

        if ranges is None:
            await self._send_whole(scope, send, head_only)
        elif len(ranges) == 1:
            await self._send_single_range(send, ranges[0], size, head_only)
        else:
            await self._send_multiple_ranges(send, ranges, size, head_only)
        if self.background is not None:
            await self.background()

    def _range_applies(self, request: Mapping[str, str]) -> bool:
        """If-Range: use the range only if the validator still matches the file."""
        if_range = request.get("if-range")
        if if_range is None:
            return True
        if_range = if_range.strip(" \t")
        return if_range in (self._get(b"last-modified"), self._get(b"etag"))

    async def _send_whole(self, scope: Scope, send: Send, head_only: bool) -> None:
        await send({"type": _START, "status": self.status_code, "headers": self.raw_headers})
        if head_only:
            await send({"type": _BODY, "body": b"", "more_body": False})
        elif self._content is not None:
            await send({"type": _BODY, "body": self._content})
        elif "http.response.pathsend" in scope.get("extensions", {}):
            await send({"type": "http.response.pathsend", "path": str(self.path)})
        else:
            chunk_size = self.chunk_size
            async with await anyio.open_file(self.path, mode="rb") as file:
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
        async with await anyio.open_file(self.path, mode="rb") as file:
            await file.seek(start)
            await self._send_span(send, file, end - start, last=True)

    async def _send_span(self, send: Send, file: Any, length: int, last: bool) -> None:
        chunk_size = self.chunk_size
        while length > 0:
            chunk = await file.read(min(chunk_size, length))
            if not chunk:  # the file shrank under us: stop rather than spin
                break
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
        tail = f"--{boundary}--\r\n".encode("latin-1")
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
        async with await anyio.open_file(self.path, mode="rb") as file:
            for head, (start, end) in zip(part_heads, ranges, strict=True):
                await send({"type": _BODY, "body": head, "more_body": True})
                await file.seek(start)
                await self._send_span(send, file, end - start, last=False)
                await send({"type": _BODY, "body": b"\r\n", "more_body": True})
        await send({"type": _BODY, "body": tail, "more_body": False})
