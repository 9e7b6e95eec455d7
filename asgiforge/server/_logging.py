"""Where the server's log lines and its one-line fatal error go: plain `logging`, set up here only.

The server runs without the CLI (`serve`'s master is exec'd into a fresh interpreter that loads
neither Typer nor Rich, so its forked workers do not carry them), yet says things the way the CLI
does: ``error: <first line>`` on standard error, red on a terminal. Off a terminal the log lines
carry a timestamp, pid, level and logger name for whatever collects them; on one, a shorter line
with the level coloured, for a person reading.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterable

    from asgiforge.errors import SourceFrame
    from asgiforge.server.options import HTTPOptions

__all__ = ["configure", "hush_uvicorn_startup", "print_error", "print_frames"]

# The loggers whose level follows ``--log-level``.
LOGGERS = ("asgiforge", "uvicorn", "uvicorn.error", "uvicorn.access")
PLAIN_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
RESET = "\x1b[0m"
LEVEL_COLOURS = {
    logging.DEBUG: "\x1b[32m",
    logging.INFO: "\x1b[34m",
    logging.WARNING: "\x1b[31m",
    logging.ERROR: "\x1b[1;31m",
    logging.CRITICAL: "\x1b[1;7;31m",
}


def use_colour(stream: TextIO) -> bool:
    """Colour for a terminal, unless ``NO_COLOR``/``TERM=dumb`` say no or ``FORCE_COLOR`` yes."""
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def printable(text: str) -> str:
    """User-controlled text (module names, paths) shown as data: it never drives the terminal."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def print_error(message: str, stream: TextIO | None = None) -> None:
    """The CLI's one-line error: ``error: `` and the message's first line, on standard error."""
    stream = sys.stderr if stream is None else stream
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    label = "\x1b[1;31merror: " + RESET if use_colour(stream) else "error: "
    stream.write(label + printable(first_line) + "\n")
    stream.flush()


def print_frames(frames: Iterable[SourceFrame], stream: TextIO | None = None) -> None:
    """The user's frames under the error, innermost last, as the CLI prints them
    (`asgiforge.cli.output.print_frames`): ``  at FILE:LINE in FUNCTION: CODE``, one a line."""
    stream = sys.stderr if stream is None else stream
    colour = use_colour(stream)
    for frame in frames:
        where = printable(f"{frame.file}:{frame.line}")
        line = "  at " + (f"\x1b[1m{where}{RESET}" if colour else where)
        if frame.function:
            line += printable(f" in {frame.function}")
        if frame.source:
            line += ": " + printable(frame.source)
        stream.write(line + "\n")
    stream.flush()


class TerminalFormatter(logging.Formatter):
    """``[date time] LEVEL    [pid] message``, the level coloured: a log meant for a person (the
    columns Rich's log handler showed here before the server stopped loading Rich)."""

    def __init__(self, *, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        stamp = time.strftime("[%x %X]", self.converter(record.created))
        colour = LEVEL_COLOURS.get(record.levelno, "") if self.colour else ""
        level = f"{colour}{record.levelname:<8}{RESET if colour else ''}"
        return f"{stamp} {level} [{record.process}] {message}"


def configure(http: HTTPOptions) -> None:
    """One configuration for `serve`'s master and workers (forked, they inherit it)."""
    handler = logging.StreamHandler(sys.stderr)
    if sys.stderr.isatty():
        handler.setFormatter(TerminalFormatter(colour=use_colour(sys.stderr)))
    else:
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    level = http.log_level_number
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(level)
    if not http.access_log:
        logging.getLogger("uvicorn.access").disabled = True


def hush_uvicorn_startup() -> None:
    """`dev` prints its own banner and reload lines instead of uvicorn's start-up chatter; errors
    still show."""
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
