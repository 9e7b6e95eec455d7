"""The memory of one `StaticFiles`: small files it has already found, checked and read.

Why: a worker-thread hop costs more than serving a small file from memory, and `StaticFiles`
needed one per request (path resolution, `stat`, read). With this cache a plain request for a
small file seen recently is answered from memory, with no thread and no file-system call on the
event loop (where a blocking call is not allowed).

Freshness: an entry is used only while `lookup_path` (resolution and containment, in a worker
thread) vouched for it less than `interval` seconds ago; older, it is checked again, its content
reused only if the file's inode, device, size, mtime and ctime are unchanged and it had not been
modified just before it was read (a change within the file system's timestamp tick would not
show). So an edited, replaced or deleted file is served as it now is within `interval` seconds.
`StaticFiles` also bypasses the cache for conditional and range requests, which therefore always
see the disk as it is. An entry is only ever created from a `lookup_path` that passed and is keyed
by the normalised request path, so a cached path never skips the containment check: it reuses its
result for at most `interval` seconds.

Memory: the entries' bytes (content plus a fixed allowance for the key, stat and bookkeeping)
never exceed `max_bytes`; the least recently used entries go first. No process-global state: each
`StaticFiles` owns its cache, and only its event-loop thread changes it.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Any, NamedTuple

__all__ = ["ENTRY_OVERHEAD", "CachedFile", "FileCache", "identity"]

# Bytes charged per entry beyond its content and its two path strings: the stat result, the
# ready-made FileResponse (its attributes and header list), the tuples and the dict slot, about
# 1.9 KB measured with tracemalloc. An over-estimate, so the budget bounds what the cache holds.
ENTRY_OVERHEAD = 2560
# A file changed less than this long before it was read may change again within the same
# timestamp tick without its stat changing (coarse clocks, FAT's 2 s): such an entry is re-read
# at its next full check instead of being trusted on its stat.
_RACY_NS = 2_000_000_000

# Seconds since an arbitrary point; a module attribute so tests can move time forward.
_now = time.monotonic

Identity = tuple[int, int, int, int, int]


def identity(stat_result: os.stat_result) -> Identity:
    """What must be unchanged for a file's cached content to still be its content."""
    return (
        stat_result.st_ino,
        stat_result.st_dev,
        stat_result.st_size,
        stat_result.st_mtime_ns,
        stat_result.st_ctime_ns,
    )


def is_racy(stat_result: os.stat_result) -> bool:
    """Whether the file changed so recently that a further change might not show in its stat."""
    newest = max(stat_result.st_mtime_ns, stat_result.st_ctime_ns)
    return newest >= time.time_ns() - _RACY_NS


class CachedFile(NamedTuple):
    """A file found by `lookup_path` for one request path, with its whole content.

    `is_index` is true when the request path named a directory and this is its `index.html`.
    """

    full_path: str
    stat_result: os.stat_result
    content: bytes
    is_index: bool
    template: Any  # the FileResponse for it, copied for each request (see staticfiles._copy)
    identity: Identity
    checked: float  # `_now()` when `lookup_path` last vouched for it
    racy: bool
    cost: int


class FileCache:
    """A least-recently-used map from request path to `CachedFile`, within a byte budget."""

    __slots__ = ("_entries", "config", "interval", "max_bytes", "max_file_size", "used")

    def __init__(self, max_file_size: int, max_bytes: int, interval: float, config: object) -> None:
        self.max_file_size = max_file_size
        self.max_bytes = max_bytes
        self.interval = interval
        # What the entries were found with (directories, symlink policy, html mode): when the
        # owner's settings no longer equal it, every entry is dropped.
        self.config = config
        self.used = 0
        self._entries: OrderedDict[str, CachedFile] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def fresh(self, path: str) -> CachedFile | None:
        """The entry for `path` if `lookup_path` vouched for it less than `interval` ago.

        No file-system call: this runs on the event loop, where a blocking call is not allowed.
        """
        entry = self._entries.get(path)
        if entry is None or _now() - entry.checked >= self.interval:
            return None
        self._entries.move_to_end(path)
        return entry

    def stale(self, path: str) -> CachedFile | None:
        """The entry for `path`, however old: a full check may reuse its content."""
        return self._entries.get(path)

    def store(
        self,
        path: str,
        full_path: str,
        stat_result: os.stat_result,
        content: bytes,
        index: bool,
        template: Any,
    ) -> None:
        """Remember `content` as `path`'s (replacing any entry), evicting to stay in budget."""
        self.discard(path)
        cost = len(content) + len(path) + len(full_path) + ENTRY_OVERHEAD
        if len(content) > self.max_file_size or cost > self.max_bytes:
            return
        entries = self._entries
        while self.used + cost > self.max_bytes:
            _, evicted = entries.popitem(last=False)
            self.used -= evicted.cost
        entries[path] = CachedFile(
            full_path,
            stat_result,
            content,
            index,
            template,
            identity(stat_result),
            _now(),
            is_racy(stat_result),
            cost,
        )
        self.used += cost

    def discard(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if entry is not None:
            self.used -= entry.cost

    def clear(self) -> None:
        self._entries.clear()
        self.used = 0
