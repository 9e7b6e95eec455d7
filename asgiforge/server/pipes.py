"""The worker → supervisor report pipe of both process models: one codec, one read.

A message is one line: a one-byte type, then a payload, then ``\\n`` (the payload holds no
newline; structured payloads are JSON, which escapes its newlines). `serve`'s worker sends a
heartbeat, ready, recycle or error message (an error in the user's code preceded by its frames);
`dev`'s worker one ready message with its JSON details. One format means one parser to get
right, and a supervisor that can tell a torn read (the rest of the line is still coming) from a
complete message.

Both supervisors keep the read end non-blocking and poll it from a single-threaded loop, so a
read has three outcomes that callers must tell apart: data, nothing yet, and end of file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from asgiforge.errors import SourceFrame

__all__ = [
    "ERROR",
    "FRAMES",
    "HEARTBEAT",
    "READY",
    "RECYCLE",
    "Decoder",
    "decode_frames",
    "encode",
    "encode_frames",
    "read_report",
]

CHUNK = 65536
# A line longer than this is not a report any worker writes: it is dropped, not buffered forever.
MAX_LINE = 1 << 22
NEWLINE = b"\n"

# The message types. READY: serving (dev adds its JSON details); the rest are `serve`'s only.
HEARTBEAT = b"."  # the worker's event loop still runs
READY = b"R"
RECYCLE = b"M"  # reached its request limit: please replace me
ERROR = b"E"  # could not start: ``<exit code> <one line>``
FRAMES = b"F"  # sent just before ERROR: the user's frames it happened in (`encode_frames`)
# The most frames a FRAMES message carries or is read with: a short pointer, never a wall.
MAX_FRAMES = 10


def encode(kind: bytes, payload: bytes = b"") -> bytes:
    """One message on the wire; `kind` is one byte, `payload` must not contain a newline."""
    if len(kind) != 1 or kind == NEWLINE:
        raise ValueError(f"a message type is one byte other than a newline, not {kind!r}")
    if NEWLINE in payload:
        raise ValueError("a message payload cannot contain a newline")
    return kind + payload + NEWLINE


def encode_frames(frames: Iterable[SourceFrame]) -> bytes:
    """The payload of a FRAMES message: the frames as a JSON list of 4-item lists, innermost last.

    The master has no traceback to look at (the exception lived in the worker): these lines are
    what lets it point at the user's file and line (`decode_frames` reads them back).
    """
    items = [[f.file, f.line, f.function, f.source] for f in frames][-MAX_FRAMES:]
    return json.dumps(items, ensure_ascii=True).encode()


def decode_frames(payload: bytes) -> tuple[SourceFrame, ...]:
    """The frames `encode_frames` wrote; a malformed payload (or item) yields nothing for it."""
    try:
        items = json.loads(payload)
    except ValueError:
        return ()
    if not isinstance(items, list):
        return ()
    frames: list[SourceFrame] = []
    for item in items[-MAX_FRAMES:]:
        if (
            isinstance(item, list)
            and len(item) == 4
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and isinstance(item[2], str)
            and isinstance(item[3], str)
        ):
            frames.append(SourceFrame(item[0], item[1], item[2], item[3]))
    return tuple(frames)


class Decoder:
    """Turns the pieces a pipe hands out, cut anywhere, back into ``(type, payload)`` messages.

    Empty lines are skipped and a line longer than `max_line` is dropped whole (up to its
    newline), so a confused or hostile writer costs the supervisor a bounded buffer and no more.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._skipping = False  # inside an over-long line: drop until its newline

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """The messages `data` completes, in order; an unfinished line is kept for the next call."""
        self._buffer += data
        messages: list[tuple[bytes, bytes]] = []
        start = 0
        while (end := self._buffer.find(NEWLINE, start)) >= 0:
            line = bytes(self._buffer[start:end])
            start = end + 1
            if self._skipping:
                self._skipping = False
            elif line:
                messages.append((line[:1], line[1:]))
        del self._buffer[:start]
        if len(self._buffer) > self.max_line:
            self._buffer.clear()
            self._skipping = True
        return messages


def read_report(fd: int) -> bytes | None:
    """What the worker wrote since the last read; None if nothing yet, ``b""`` at end of file.

    A broken pipe counts as end of file: either way the worker will not write again.
    """
    try:
        return os.read(fd, CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""
