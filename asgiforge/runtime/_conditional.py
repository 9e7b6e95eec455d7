"""Range and conditional requests for files: `Range`, `If-Range`, `If-None-Match`,
`If-Modified-Since`, and the validators (`ETag`, `Last-Modified`) they are checked against.

Split out of responses.py so FileResponse and StaticFiles share one reading of the RFC 9110
rules, with Starlette's behaviour where it settles a choice:

- a `Range` is parsed in one pass without regular expressions and never calls `int()` on a huge
  digit string; more than `max_ranges` ranges and the header is ignored (the whole file is sent);
- a weak `If-Range` validator never allows a range (RFC 9110 §13.1.5 requires a strong match);
- `If-None-Match: *` matches only as the whole header; otherwise the file's ETag is looked up in
  the comma-separated list (weak prefixes ignored), and If-Modified-Since counts only without it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
from collections.abc import Mapping
from datetime import datetime

from asgiforge.runtime.types import Scope

# Headers a 304 keeps (RFC 9110 §15.4.5).
NOT_MODIFIED_HEADERS = frozenset(
    {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"}
)
# More ranges than this in one Range header and the header is ignored (the whole file is sent,
# as RFC 9110 §14.2 allows): it bounds the work and the multipart overhead one request can cause.
MAX_RANGES = 100
# A decimal with more digits than this is beyond any file size; it is never converted to int.
_MAX_DIGITS = 19

_CONDITIONAL_NAMES = frozenset({b"range", b"if-range", b"if-none-match", b"if-modified-since"})


class MalformedRangeHeader(Exception):
    def __init__(self, content: str = "Malformed range header.") -> None:
        self.content = content


class RangeNotSatisfiable(Exception):
    def __init__(self, max_size: int) -> None:
        self.max_size = max_size


def _parse_offset(text: str) -> int | None:
    """A non-negative decimal, or None; huge values saturate instead of costing time."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text) > _MAX_DIGITS:
        return sys.maxsize
    return int(text)


def parse_range_header(
    http_range: str, file_size: int, max_ranges: int = MAX_RANGES
) -> list[tuple[int, int]] | None:
    """Parse a `Range` header into sorted, merged, end-exclusive `(start, end)` byte ranges.

    Returns None when the header is to be ignored (more than `max_ranges` ranges). Raises
    `MalformedRangeHeader` (400) or `RangeNotSatisfiable` (416), checked in Starlette's order:
    no usable range, then a start past the end, then a start after its end. Parts that are not
    `start-end`, `start-` or `-suffix` with decimal numbers are skipped.
    """
    units, sep, spec = http_range.partition("=")
    if not sep:
        raise MalformedRangeHeader()
    if units.strip().lower() != "bytes":
        raise MalformedRangeHeader("Only support bytes range")
    if spec.count(",") >= max_ranges:
        return None
    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        first, dash, last = part.partition("-")
        if not dash:
            continue
        start_text = first.strip()
        end_text = last.strip()
        if start_text:
            start = _parse_offset(start_text)
            if start is None:
                continue
            if end_text:
                end = _parse_offset(end_text)
                if end is None:
                    continue
                ranges.append((start, end + 1 if end < file_size else file_size))
            else:
                ranges.append((start, file_size))
        else:
            suffix = _parse_offset(end_text)
            if suffix is None:
                continue
            ranges.append((max(file_size - suffix, 0), file_size))
    if not ranges:
        raise MalformedRangeHeader("Range header: range must be requested")
    if any(start >= file_size for start, _ in ranges):
        raise RangeNotSatisfiable(file_size)
    if any(start >= end for start, end in ranges):
        raise MalformedRangeHeader("Range header: start must be less than end")
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


def if_range_allows(if_range: str | None, last_modified: str | None, etag: str | None) -> bool:
    """If-Range: the range is used only if the validator is strong and still matches the file."""
    if if_range is None:
        return True
    if if_range.startswith("W/"):
        return False
    return if_range in (last_modified, etag)


def _http_date(value: str) -> datetime | None:
    # email.utils (and the email package under it) only when a conditional request needs it.
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def is_not_modified(
    response_headers: Mapping[str, str], request_headers: Mapping[str, str]
) -> bool:
    """RFC 9110 §13.1: If-None-Match wins; If-Modified-Since only counts without it."""
    if_none_match = request_headers.get("if-none-match")
    if if_none_match:
        if if_none_match.strip() == "*":
            return True
        etag = response_headers.get("etag")
        if etag is None:
            return False
        etag = etag.removeprefix("W/")
        return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))
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


def request_headers(scope: Scope) -> dict[str, str]:
    """The conditional/range request headers, read straight from the scope (first wins)."""
    wanted: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        if name in _CONDITIONAL_NAMES:
            wanted.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return wanted


@functools.lru_cache(maxsize=1024)
def stat_validators(mtime: float, size: int) -> tuple[bytes, bytes]:
    """(ETag, Last-Modified) for a file's mtime and size, memoised: a static file served many
    times costs one md5 and one date formatting, not one per request."""
    from email.utils import formatdate  # memoised above: loaded with the first file served

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


def stat_and_read(path: str | os.PathLike[str], limit: int) -> tuple[os.stat_result, bytes | None]:
    stat_result = os.stat(path)
    return stat_result, read_small_file(path, stat_result, limit)
