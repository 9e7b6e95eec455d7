"""`asgiforge serve`'s master in a fresh interpreter, run as ``python -m`` this module (`MODULE`).

Why: the master forks its workers, and a forked worker starts with every page its parent had.
Forked from the CLI, each worker carried Typer (and the pydantic it loads), the CLI modules and
everything they import: code no worker runs, yet counted in full in every worker's RSS. So once
the CLI has parsed and validated everything, `serve()` binds the listeners and replaces the
process image (``os.execv``: same PID, so signals, the ``--pid`` file and process managers see no
difference) with this module, which loads the master (`serve.master`) and what it pre-imports for
the workers, and nothing else: no Typer, no Rich, not the user's app. (Click comes
with uvicorn, whose package imports its own CLI: the workers need uvicorn either way.)

How the options travel: pickled into an unlinked temporary file whose descriptor the new image
inherits (its number is the first argument). Pickle, because the options are nested frozen
dataclasses (`ServeOptions` → `HTTPOptions` → `HeadLimits`, `AppTarget`, `BindAddress`, `Path`)
plus the SIGHUP `retarget` callable: pickle rebuilds exactly those types, so there is no second
list of fields to keep in step with the dataclasses; and the bytes are written by this very
process (same PID, same interpreter and package), never read from anywhere else, so pickle's
"trusted data only" rule holds. A file rather than a pipe, because nobody reads a pipe before
the exec: a payload beyond the pipe's buffer would block the writer. Also in it: the listening
descriptors (inherited across the exec), and the CLI's ``sys.path`` and ``sys.argv``, so the
workers import the app exactly as they did when forked from the CLI. The interpreter's own flags
(``-X dev``, ``-W ...``, ``-O``) are passed on the new command line, which ends with the original
one, so ``ps`` and ``pgrep -f "asgiforge serve"`` still find the master (with `setproctitle`
installed the master then renames itself ``asgiforge master APP BINDS``: `server.proctitle`).

After the exec this module stands in for `asgiforge.cli.main`: logging is configured by
`asgiforge.server._logging` (plain `logging`, no Rich), and a domain error is the CLI's one line
on stderr (``error: ...``, printed there too) with the CLI's exit code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NoReturn

from asgiforge.errors import AsgiforgeError
from asgiforge.server import _logging

if TYPE_CHECKING:
    from socket import socket

    from asgiforge.errors import SourceFrame
    from asgiforge.server.options import AppTarget
    from asgiforge.server.serve.options import ServeOptions

__all__ = ["main", "serve"]

MODULE = "asgiforge.server.serve.master_exec"
# The same status the CLI gives an interrupted command.
INTERRUPTED = 130

Retarget = Callable[[], "AppTarget"]
# options, retarget, listening descriptors, sys.path, sys.argv
Payload = tuple["ServeOptions", Retarget | None, list[int], list[str], list[str]]


def serve(options: ServeOptions, retarget: Retarget | None = None) -> int:
    """Serve `options` as ``asgiforge serve`` does: from a fresh interpreter, same PID.

    Returns only where no interpreter can be started (``sys.executable`` unknown, as when
    embedded): then the master runs in this process, with logging configured here too.
    """
    if sys.executable:
        replace_process(options, retarget)
    _logging.configure(options.http)
    from asgiforge.server.serve import master

    return master.serve(options, retarget=retarget)


def replace_process(options: ServeOptions, retarget: Retarget | None) -> NoReturn:
    """Bind, then exec ``python -m asgiforge.server.serve.master_exec FD ARGV...`` (options in FD).

    Binding here, before the exec, reports a port in use as the CLI's own error, and keeps
    `socket.getaddrinfo`'s IDNA codec (and `unicodedata`) out of the master, hence the workers.
    """
    from asgiforge.server import sockets

    listeners = sockets.bind_all(options.binds)
    try:
        _exec(options, retarget, listeners)
    finally:  # only reached when the exec failed
        sockets.close_all(listeners)


def _exec(options: ServeOptions, retarget: Retarget | None, listeners: list[socket]) -> NoReturn:
    import pickle
    import subprocess
    import tempfile

    fds = [sock.fileno() for sock in listeners]
    payload = pickle.dumps(
        (options, retarget, fds, list(sys.path), list(sys.argv)), protocol=pickle.HIGHEST_PROTOCOL
    )
    # Not in typeshed, but what multiprocessing's spawn uses to pass on -X/-W/-O and friends.
    flags: list[str] = getattr(subprocess, "_args_from_interpreter_flags", list)()
    if "-P" not in flags and "-I" not in flags:
        flags.append("-P")  # no cwd in front of sys.path: it is restored from the payload
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()  # anything still buffered would be lost with this image
    with tempfile.TemporaryFile() as handle:
        handle.write(payload)
        handle.flush()
        handle.seek(0)
        for fd in (handle.fileno(), *fds):
            os.set_inheritable(fd, True)
        argv = [sys.executable, *flags, "-m", MODULE, str(handle.fileno()), *sys.argv]
        try:
            os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter, no shell
        except OSError as exc:
            from asgiforge.errors import ServeError

            reason = exc.strerror or str(exc)
            raise ServeError(f"cannot start the master ({sys.executable}): {reason}") from None


def read_payload(fd: int) -> Payload:
    """What `replace_process` wrote to `fd` (closed here): options, retarget, listeners, sys.path
    and sys.argv, each checked for its type."""
    import pickle

    from asgiforge.server.serve.options import ServeOptions

    with os.fdopen(fd, "rb") as handle:
        options, retarget, fds, path, argv = pickle.loads(handle.read())  # noqa: S301 - see above
    if not isinstance(options, ServeOptions) or not (retarget is None or callable(retarget)):
        raise TypeError(f"descriptor {fd} does not hold serve options")
    if not all(isinstance(item, int) for item in fds):
        raise TypeError(f"descriptor {fd} does not hold listener descriptors")
    if not all(isinstance(item, str) for item in (*path, *argv)):
        raise TypeError(f"descriptor {fd} does not hold sys.path and sys.argv")
    return options, retarget, fds, path, argv


def adopt_listeners(fds: list[int]) -> list[socket]:
    """The sockets the CLI bound, back as objects; no longer inherited by what the app spawns."""
    from socket import socket

    listeners = []
    for fd in fds:
        os.set_inheritable(fd, False)
        sock = socket(fileno=fd)
        sock.setblocking(False)
        listeners.append(sock)
    return listeners


def main(args: list[str] | None = None) -> NoReturn:
    """Entry point of the exec'd master: read the options, serve, exit with the CLI's status."""
    args = sys.argv[1:] if args is None else args
    if not args or not args[0].isdigit():
        sys.exit(f"usage: python -m {MODULE} FD [ARGV...] (started by `asgiforge serve`)")
    options, retarget, fds, path, argv = read_payload(int(args[0]))
    sys.path[:] = path
    sys.argv[:] = argv
    _logging.configure(options.http)
    from asgiforge.server import sockets
    from asgiforge.server.serve.master import Master

    listeners = adopt_listeners(fds)
    try:
        status = Master(options, retarget=retarget, listeners=listeners).run()
    except AsgiforgeError as exc:
        _fail(str(exc), exc.exit_code, getattr(exc, "frames", ()))
    except KeyboardInterrupt:
        status = INTERRUPTED
    finally:
        sockets.close_all(listeners)
    sys.exit(status)


def _fail(message: str, code: int, frames: Iterable[SourceFrame] = ()) -> NoReturn:
    """The CLI's one-line error, and the user's frames under it (the workers are gone by now)."""
    _logging.print_error(message)
    _logging.print_frames(frames)
    sys.exit(code)


if __name__ == "__main__":
    main()
