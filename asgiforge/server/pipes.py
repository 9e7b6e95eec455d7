"""The worker → supervisor report pipe of both process models: one codec, one read.

A message is one line: a one-byte type, then a payload, then ``\\n`` (the payload holds no
newline; structured payloads are JSON, which escapes its newlines). `serve`'s worker sends a
heartbeat, ready, recycle or error message; `dev`'s worker one ready message with its JSON
details. One format means one parser to get right, and a supervisor that can tell a torn read
(the rest of the line is still coming) from a complete message.

Both supervisors keep the read end non-blocking and poll it from a single-threaded loop, so a
read has three outcomes that callers must tell apart: data, nothing yet, and end of file.
"""

from __future__ import annotations

import os

__all__ = ["ERROR", "HEARTBEAT", "READY", "RECYCLE", "Decoder", "encode", "read_report"]

CHUNK = 65536
# A line longer than this is not a report any worker writes: it is dropped, not buffered forever.
MAX_LINE = 1 << 22
NEWLINE = b"\n"

# The message types. READY: serving (dev adds its JSON details); the rest are `serve`'s only.
HEARTBEAT = b"."  # the worker's event loop still runs
READY = b"R"
RECYCLE = b"M"  # reached its request limit: please replace me
ERROR = b"E"  # could not start: ``<exit code> <one line>``


def encode(kind: bytes, payload: bytes = b"") -> bytes:
    """One message on the wire; `kind` is one byte, `payload` must not contain a newline."""
    if len(kind) != 1 or kind == NEWLINE:
        raise ValueError(f"a message type is one byte other than a newline, not {kind!r}")
    if NEWLINE in payload:
        raise ValueError("a message payload cannot contain a newline")
    return kind + payload + NEWLINE


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
