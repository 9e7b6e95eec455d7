"""Replay the top-level help from a cache instead of importing Typer and Rich to render it.

`asgiforge --help` (and `asgiforge` with no arguments) would otherwise spend ~0.2 s importing
Typer, Rich and the command modules only to print the same text again. The first run renders it
with Typer as usual while recording exactly what was written to stdout and stderr, and the exit
code; later runs with the same inputs write those bytes back.

"The same inputs" is everything the rendering depends on, hashed into the file name: the full
command line, asgiforge's version, the size and modification time of every CLI source file and
of the Typer and Rich packages (an editable install changes without a version bump), whether each
standard stream is a terminal and its size, the output encoding, and the environment variables
Rich and Typer read (TERM, NO_COLOR, FORCE_COLOR, COLUMNS, `TYPER_*`, ...). A miss, a damaged
file or an unwritable cache directory just falls back to Typer. `ASGIFORGE_NO_HELP_CACHE=1`
disables the cache. Only the standard library is imported here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

from asgiforge import __version__

__all__ = ["cache_dir", "replay_or_record"]

_ENV_NAMES = (
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "COLUMNS",
    "LINES",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "JUPYTER_COLUMNS",
    "JUPYTER_LINES",
    "PYTHONIOENCODING",
)
_ENV_PREFIXES = ("TYPER", "_TYPER", "RICH", "CLICK", "_CLICK")
_MAX_ENTRIES = 64
_CLI_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "asgiforge" / "help"


def _stat_key(path: str | Path) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), -1, -1)
    return (str(path), st.st_mtime_ns, st.st_size)


def _package_key(name: str) -> tuple[str, int, int]:
    """Where an installed package lives and when it changed, found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        return (name, -1, -1)
    return _stat_key(spec.origin)


def _stream_key(fd: int) -> tuple[bool, tuple[int, int] | None]:
    try:
        if not os.isatty(fd):
            return (False, None)
        size = os.get_terminal_size(fd)
    except OSError:
        return (False, None)
    return (True, (size.columns, size.lines))


def _key() -> str:
    env = {
        name: value
        for name, value in os.environ.items()
        if name in _ENV_NAMES or name.startswith(_ENV_PREFIXES)
    }
    sources = sorted(
        _stat_key(entry.path) for entry in os.scandir(_CLI_DIR) if entry.name.endswith(".py")
    )
    parts = (
        __version__,
        tuple(getattr(sys, "orig_argv", sys.argv)),
        tuple(sys.argv),
        sys.executable,
        sources,
        _stat_key(_CLI_DIR.parent / "__init__.py"),
        _package_key("typer"),
        _package_key("rich"),
        [_stream_key(fd) for fd in (0, 1, 2)],
        getattr(sys.stdout, "encoding", None),
        getattr(sys.stderr, "encoding", None),
        sorted(env.items()),
    )
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()[:40]


class _Tee:
    """A text stream that records what is written through it (and still writes it)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.parts: list[str] = []
        self.bypassed = False  # someone reached for the binary buffer: the record is incomplete

    def write(self, text: str) -> int:
        written = self._stream.write(text)  # first: a probe like write(b"") must fail unrecorded
        self.parts.append(text)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            self.bypassed = True
        return getattr(self._stream, name)


def _replay(path: Path) -> None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        code, out, err = int(record["code"]), str(record["stdout"]), str(record["stderr"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    sys.stdout.write(out)
    sys.stdout.flush()
    if err:
        sys.stderr.write(err)
        sys.stderr.flush()
    sys.exit(code)


def _store(path: Path, code: int, out: str, err: str) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        entries = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[: max(0, len(entries) - _MAX_ENTRIES + 1)]:
            old.unlink(missing_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        record = {"code": code, "stdout": out, "stderr": err}
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, path)


def replay_or_record(run: Callable[[], None]) -> NoReturn:
    """Write the cached help and exit, or call `run` (which exits) and cache what it printed."""
    if os.environ.get("ASGIFORGE_NO_HELP_CACHE"):
        run()
        sys.exit(0)  # pragma: no cover - run() always exits
    try:
        path = cache_dir() / f"{_key()}.json"
    except OSError:
        run()
        sys.exit(0)  # pragma: no cover - run() always exits
    _replay(path)
    real_out, real_err = sys.stdout, sys.stderr
    out, err = _Tee(real_out), _Tee(real_err)
    sys.stdout, sys.stderr = out, err
    try:
        run()
    except SystemExit as exit_:
        code = exit_.code
        sys.stdout, sys.stderr = real_out, real_err
        if (
            code in (0, 2)
            and isinstance(code, int)
            and out.parts
            and not (out.bypassed or err.bypassed)
        ):
            _store(path, code, "".join(out.parts), "".join(err.parts))
        raise
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    sys.exit(0)  # pragma: no cover - run() always exits
