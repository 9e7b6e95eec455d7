"""Streaming form parsers: `application/x-www-form-urlencoded` and `multipart/form-data`.

Both parsers read the body as it arrives and enforce the same three limits, whatever the encoding
(Starlette once had a limit that one path skipped): `max_fields` non-file fields, `max_files` file
parts and `max_part_size` bytes per non-file part. Going over any of them raises
`MultiPartException` naming the limit, *while streaming*: memory stays bounded by the limits, never
by the size of the request. `Request.form()` turns the exception into a 400.

Multipart also refuses, fast, what no browser sends: over 64 KiB before the first part's headers,
part headers that never end (python-multipart bounds their size and count) and a body that stops
before its closing boundary. File parts spool to a SpooledTemporaryFile whose disk writes run in a
worker thread; the client's filename is kept as `UploadFile.filename` and never used as a path.

Urlencoded forms need only the standard library; multipart needs python-multipart (the `forms`
extra), imported when a MultiPartParser is first created.
"""

from __future__ import annotations

import codecs
import enum
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Callable
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO, cast
from urllib.parse import unquote_to_bytes

import anyio

from asgiforge.runtime.datastructures import FormData, Headers, UploadFile
from asgiforge.runtime.exceptions import StarletteDeprecationWarning

__all__ = ["FormMessage", "FormParser", "MultiPartException", "MultiPartParser"]

# Browsers send no preamble at all; a few KiB of slack is generous and keeps junk cheap to reject.
_MAX_PREAMBLE = 64 * 1024


class _DeprecatedEnumType(enum.EnumType):
    """Warns when the enum is called, as Starlette's deprecated `FormMessage` does."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        warnings.warn(
            f"`{cls.__name__}` is deprecated and will be removed in a future version.",
            StarletteDeprecationWarning,
            stacklevel=2,
        )
        return super().__call__(*args, **kwargs)


class FormMessage(enum.Enum, metaclass=_DeprecatedEnumType):
    """Deprecated and unused: kept because Starlette still exports it and ported code imports it."""

    FIELD_START = 1
    FIELD_NAME = 2
    FIELD_DATA = 3
    FIELD_END = 4
    END = 5


class MultiPartException(Exception):
    """A form body that breaks a limit or is malformed; `.message` is safe to show the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# The messages are Starlette's, word for word: clients and tests compare them.
def _too_many_fields(limit: float) -> MultiPartException:
    return MultiPartException(f"Too many fields. Maximum number of fields is {limit}.")


def _too_many_files(limit: float) -> MultiPartException:
    return MultiPartException(f"Too many files. Maximum number of files is {limit}.")


def _part_too_large(limit: int) -> MultiPartException:
    return MultiPartException(f"Part exceeded maximum size of {int(limit / 1024)}KB.")


def _field_too_large(limit: int) -> MultiPartException:
    return MultiPartException(f"Field exceeded maximum size of {int(limit / 1024)}KB.")


def _invalid_multipart() -> MultiPartException:
    return MultiPartException("Invalid multipart data.")


def _safe_decode(data: bytes | bytearray, charset: str) -> str:
    """Decode client bytes without ever raising: an unknown charset or bad bytes fall back."""
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return data.decode("latin-1")


def _check_limits(max_files: float, max_fields: float, max_part_size: int) -> None:
    for name, value in (
        ("max_files", max_files),
        ("max_fields", max_fields),
        ("max_part_size", max_part_size),
    ):
        # `not value >= 0` also refuses NaN, which would silently disable the limit.
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"{name} must be a non-negative number, not {value!r}")


class FormParser:
    """`application/x-www-form-urlencoded`, parsed field by field as the body streams in.

    `max_files` is accepted so callers can pass one set of limits to either parser; such a body
    has no files, so it never triggers. A chunk is scanned field by field, so a limit stops the
    parse at the field that breaks it, however large the chunk.
    """

    def __init__(
        self,
        headers: Headers,
        stream: AsyncIterable[bytes],
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        _check_limits(max_files, max_fields, max_part_size)
        self.headers = headers
        self.stream = stream
        self.max_files = max_files
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self._current_fields = 0
        # The raw `name=value` bytes of the field being read; never more than max_part_size.
        self._field_value = bytearray()
        self._items: list[tuple[str, str | UploadFile]] = []

    def _end_field(self) -> None:
        raw = self._field_value
        if not raw:
            return  # "a=1&&b=2": empty segments are not fields
        self._field_value = bytearray()
        self._current_fields += 1
        if self._current_fields > self.max_fields:
            raise _too_many_fields(self.max_fields)
        name, _, value = bytes(raw).partition(b"=")
        self._items.append(
            (
                _safe_decode(unquote_to_bytes(name.replace(b"+", b" ")), "utf-8"),
                _safe_decode(unquote_to_bytes(value.replace(b"+", b" ")), "utf-8"),
            )
        )

    def _feed(self, chunk: bytes) -> None:
        start = 0
        size = len(chunk)
        while start <= size:
            amp = chunk.find(b"&", start)
            end = size if amp < 0 else amp
            if len(self._field_value) + (end - start) > self.max_part_size:
                raise _field_too_large(self.max_part_size)
            self._field_value += chunk[start:end]
            if amp < 0:
                return
            self._end_field()
            start = amp + 1

    async def parse(self) -> FormData:
        chunks = aiter(self.stream)
        try:
            async for chunk in chunks:
                if chunk:
                    self._feed(chunk)
            self._end_field()
        finally:
            with anyio.CancelScope(shield=True):
                await _aclose(chunks)
        return FormData(self._items)


async def _aclose(stream: AsyncIterator[bytes]) -> None:
    """Close the iterator we stopped reading early, so its cleanup runs now.

    It is the iterator (`aiter(stream)`), not the iterable, that is closed: an iterable whose
    `__aiter__` returns a fresh async generator would otherwise leave that generator to the
    garbage collector, which on trio is a ResourceWarning and a cleanup that never runs.
    """
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _load_multipart() -> tuple[Any, Callable[[str], tuple[bytes, dict[bytes, bytes]]]]:
    try:
        from python_multipart.multipart import MultipartParser, parse_options_header
    except ImportError:
        try:
            from multipart.multipart import (  # type: ignore[no-redef]
                MultipartParser,
                parse_options_header,
            )
        except ImportError as exc:
            raise ImportError(
                "Parsing multipart/form-data needs python-multipart: pip install 'asgiforge[forms]'"
            ) from exc
    return MultipartParser, parse_options_header


class MultiPartParser:
    """`multipart/form-data`, driven by python-multipart's streaming parser.

    The parser's callbacks are synchronous, so they only collect: field bytes (checked against
    `max_part_size` on every slice) and file slices; the file slices are written, asynchronously,
    after each chunk. Work per chunk is therefore bounded by the chunk, memory by the limits.
    """

    spool_max_size = 1024 * 1024

    def __init__(
        self,
        headers: Headers,
        stream: AsyncIterable[bytes],
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        _check_limits(max_files, max_fields, max_part_size)
        self._parser_class, self._parse_options_header = _load_multipart()
        self.headers = headers
        self.stream = stream
        self.max_files = max_files
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self._charset = "utf-8"
        self._items: list[tuple[str, str | UploadFile]] = []
        self._uploads: list[UploadFile] = []
        self._writes: list[tuple[UploadFile, bytes]] = []
        self._fields = 0
        self._started = False
        self._ended = False
        # The part being parsed.
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._part_headers: list[tuple[bytes, bytes]] = []
        self._field_name = ""
        self._field_data = bytearray()
        self._upload: UploadFile | None = None

    # python-multipart callbacks: synchronous, they never do I/O. -------------------------------

    def _on_part_begin(self) -> None:
        self._started = True
        self._part_headers = []
        self._field_data = bytearray()
        self._upload = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._part_headers.append((bytes(self._header_field).lower(), bytes(self._header_value)))
        self._header_field = bytearray()
        self._header_value = bytearray()

    def _on_headers_finished(self) -> None:
        disposition = None
        for key, value in self._part_headers:
            if key == b"content-disposition":
                disposition = value
        options: dict[bytes, bytes] = {}
        if disposition is not None:
            _, options = self._parse_options_header(disposition.decode("latin-1"))
        name = options.get(b"name")
        if name is None:
            raise MultiPartException(
                'The Content-Disposition header field "name" must be provided.'
            )
        self._field_name = _safe_decode(name, self._charset)
        if b"filename" in options:
            if len(self._uploads) >= self.max_files:
                raise _too_many_files(self.max_files)
            # Closed by FormData.close() (or below, if the parse fails).
            spooled = SpooledTemporaryFile(max_size=self.spool_max_size)  # noqa: SIM115
            upload = UploadFile(
                cast(BinaryIO, spooled),
                size=0,
                filename=_safe_decode(options[b"filename"], self._charset),
                headers=Headers(raw=self._part_headers),
            )
            self._uploads.append(upload)
            self._items.append((self._field_name, upload))
            self._upload = upload
        else:
            if self._fields >= self.max_fields:
                raise _too_many_fields(self.max_fields)
            self._fields += 1

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._upload is not None:
            self._writes.append((self._upload, data[start:end]))
            return
        if len(self._field_data) + (end - start) > self.max_part_size:
            raise _part_too_large(self.max_part_size)
        self._field_data += data[start:end]

    def _on_part_end(self) -> None:
        if self._upload is None:
            self._items.append((self._field_name, _safe_decode(self._field_data, self._charset)))
            self._field_data = bytearray()

    def _on_end(self) -> None:
        self._ended = True

    # The async driver. ----------------------------------------------------------------------

    async def _flush_writes(self) -> None:
        writes, self._writes = self._writes, []
        index = 0
        while index < len(writes):
            upload, data = writes[index]
            index += 1
            # Merge consecutive slices for one file: one write (maybe one thread hop) per chunk.
            if index < len(writes) and writes[index][0] is upload:
                parts = [data]
                while index < len(writes) and writes[index][0] is upload:
                    parts.append(writes[index][1])
                    index += 1
                data = b"".join(parts)
            await upload.write(data)

    def _make_parser(self) -> Any:
        _, params = self._parse_options_header(self.headers.get("content-type", ""))
        charset = params.get(b"charset")
        if charset:
            # Looked up once per body (a failed lookup is not cached by `codecs`): an unknown
            # charset decodes as latin-1, which never fails.
            try:
                self._charset = codecs.lookup(charset.decode("latin-1")).name
            except LookupError:
                self._charset = "latin-1"
        boundary = params.get(b"boundary")
        if not boundary:
            raise MultiPartException("Missing boundary in multipart.")
        callbacks = {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_end": self._on_end,
        }
        try:
            return self._parser_class(boundary, callbacks)
        except ValueError:  # python-multipart refuses e.g. an over-long boundary
            raise _invalid_multipart() from None

    @staticmethod
    def _write(parser: Any, data: bytes) -> None:
        try:
            parser.write(data)
        except ValueError:  # python-multipart's parse errors are ValueErrors
            raise _invalid_multipart() from None

    async def parse(self) -> FormData:
        chunks = aiter(self.stream)
        try:
            parser = self._make_parser()
            budget = _MAX_PREAMBLE
            async for chunk in chunks:
                if not self._started:
                    # Until the first part begins, feed at most `budget` bytes, however large
                    # the chunk: a huge preamble is refused after 64 KiB, not after reading it.
                    head, chunk = chunk[:budget], chunk[budget:]
                    budget -= len(head)
                    self._write(parser, head)
                    if not self._started and (chunk or budget <= 0):
                        raise MultiPartException(
                            f"No multipart boundary in the first {_MAX_PREAMBLE} bytes of the body."
                        )
                if chunk:
                    self._write(parser, chunk)
                await self._flush_writes()
                if self._ended:
                    break  # anything after the closing boundary is an epilogue: not read
            if not self._ended and budget < _MAX_PREAMBLE:
                # An empty body is an empty form (as in Starlette); a body that stops inside a
                # part is refused rather than handed over half-read.
                raise MultiPartException("Multipart body ended before its closing boundary.")
            for upload in self._uploads:
                await upload.seek(0)
        except BaseException:
            # Shielded: on cancellation too, no temporary file outlives the failed parse.
            with anyio.CancelScope(shield=True):
                for upload in self._uploads:
                    await upload.close()
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await _aclose(chunks)
        return FormData(self._items)
