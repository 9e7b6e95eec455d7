"""The supervisor's end of a forked worker's report pipe, shared by `serve`'s and `dev`'s.

Both supervisors keep the read end non-blocking and poll it from a single-threaded loop, so a
read has three outcomes that callers must tell apart: data, nothing yet, and end of file.
"""

from __future__ import annotations

import os

__all__ = ["read_report"]

CHUNK = 65536


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
