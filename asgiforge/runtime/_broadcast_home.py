"""The private directory the embedded broadcast backend meets in, owned by a server's master.

Kept apart from the backend so `asgiforge serve`'s master (which must stay lean: its workers
inherit every page it holds) imports only `os`, `shutil` and `tempfile` to prepare it. The master
creates the directory (mode 0700, so no other user can post into it) before forking and exports
its path in `ENV`; each worker binds one socket in it; the master removes it when it stops.
"""

from __future__ import annotations

import os
import shutil
import tempfile

__all__ = ["ENV", "create", "remove"]

ENV = "ASGIFORGE_BROADCAST_DIR"


def create() -> str:
    """Make a fresh private directory and export it to the processes forked from now on."""
    path = tempfile.mkdtemp(prefix="asgiforge-broadcast-")
    os.environ[ENV] = path
    return path


def remove(path: str) -> None:
    """Delete the directory (sockets of dead workers included) and stop exporting it."""
    shutil.rmtree(path, ignore_errors=True)
    if os.environ.get(ENV) == path:
        del os.environ[ENV]
