"""Process titles: what ``ps``, ``top`` and ``pgrep`` show for the master and each worker.

Without them every forked worker shows the master's whole command line (after `serve`'s exec,
``python -P -m asgiforge.server.serve.master_exec 3 /venv/bin/asgiforge serve ...``), so an
operator cannot tell the master from a worker, nor one worker from another. With them:
``asgiforge master main:app http://0.0.0.0:8000``, ``asgiforge worker 2 main:app``,
``asgiforge dev main:app http://127.0.0.1:8000`` and ``asgiforge dev worker main:app``.

Rewriting a process's command line takes `setproctitle` (the ``proctitle`` extra): without it
nothing changes and nothing breaks, which is why every call here is best effort. Workers get
their title right after the fork, before they import the user's app, so a worker stuck in its
import is already named.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

__all__ = ["dev_title", "dev_worker_title", "master_title", "set_title", "worker_title"]

PREFIX = "asgiforge"


def set_title(title: str) -> bool:
    """Give this process `title` in ``ps``; False when `setproctitle` is not installed."""
    try:
        from setproctitle import setproctitle
    except ImportError:
        return False
    with contextlib.suppress(Exception):  # a title is cosmetic: it never stops a server
        setproctitle(title)
        return True
    return False


def _printable(text: str) -> str:
    # An app string or socket path is user data; a title with a NUL or newline confuses `ps`.
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def master_title(app: str, binds: Iterable[str]) -> str:
    """``asgiforge master APP BIND...``: what `serve`'s master runs and where it listens."""
    return _printable(" ".join([PREFIX, "master", app, *binds]))


def worker_title(number: int, app: str) -> str:
    """``asgiforge worker N APP``: N is the worker's slot (1..workers), reused by its successor."""
    return _printable(f"{PREFIX} worker {number} {app}")


def dev_title(app: str, url: str) -> str:
    """``asgiforge dev APP URL``: the `dev` supervisor (or the single `--no-reload` process)."""
    return _printable(f"{PREFIX} dev {app} {url}")


def dev_worker_title(app: str) -> str:
    """``asgiforge dev worker APP``: the process `dev` forks for each version of the code."""
    return _printable(f"{PREFIX} dev worker {app}")
