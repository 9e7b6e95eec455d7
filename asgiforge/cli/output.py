"""The two consoles (one per stream) and the shared renderers for errors.

Rich is imported lazily so that commands which print nothing pay nothing for it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.console import Console

    from asgiforge.errors import SourceFrame


@functools.cache
def out() -> Console:
    """The stdout console: tables, trees, banners."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@functools.cache
def err() -> Console:
    """The stderr console: errors and log lines."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """One red line on stderr; the message is data, never rich markup."""
    from rich.text import Text

    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    err().print(Text("error: ", style="bold red") + Text(_printable(first_line)))


def print_frames(frames: Iterable[SourceFrame]) -> None:
    """The user's frames under an error, innermost last: one line each, location then code.

    Long enough to find the line to fix, short enough to stay on screen: the core hands over
    only the last few frames of the user's own code.
    """
    from rich.text import Text

    for frame in frames:
        line = Text("  at ", style="dim") + Text(_printable(f"{frame.file}:{frame.line}"), "bold")
        if frame.function:
            line += Text(_printable(f" in {frame.function}"), style="dim")
        if frame.source:
            line += Text(": ") + Text(_printable(frame.source), style="cyan")
        err().print(line)


def _printable(text: str) -> str:
    # Messages carry user-controlled text (module names, paths): never let it drive the terminal.
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def reflow_help(text: str | None) -> str | None:
    """A command's help with each paragraph on one line, for the terminal to wrap.

    Typer's rich help keeps the single line breaks of a docstring's later paragraphs, so text
    wrapped at 100 columns in the source came out broken mid-sentence at 80. Paragraphs
    Click-style marked ``\\b`` (no rewrapping) are kept as written.
    """
    if not text:
        return text
    import inspect

    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        paragraph if paragraph.startswith("\b") else " ".join(paragraph.split())
        for paragraph in paragraphs
    )
