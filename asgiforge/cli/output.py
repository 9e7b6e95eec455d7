"""The two consoles (one per stream) and the shared renderers for errors.

Rich is imported lazily so that commands which print nothing pay nothing for it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


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
    # Messages carry user-controlled text (module names, paths): never let it drive the terminal.
    safe = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in first_line)
    err().print(Text("error: ", style="bold red") + Text(safe))
