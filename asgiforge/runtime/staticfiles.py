"""Serve files from a directory (or packages' `statics` folders): Starlette's `StaticFiles`.

Anything that does not resolve to a regular file *inside* one of the directories is a 404 — `..`
segments, backslashes, NUL bytes, sibling folders sharing a name prefix, symlinks leaving the root
(unless `follow_symlink=True`), unreadable files and names too long for the OS alike — so a
hostile path never produces a 500, a 401 or a hint of what exists. Files are answered by
`FileResponse`, which handles ETag/Last-Modified/304, HEAD and Range requests.

Small files are kept in a per-instance cache (`_static_cache`) so serving one again needs no
worker thread: a plain GET/HEAD is answered from memory while the file's last full check (path
resolution, containment, stat) is less than `revalidate_interval` seconds old; conditional and
range requests always check the disk.
"""

from __future__ import annotations

import importlib.util
import os
import stat
from collections.abc import Mapping
from urllib.parse import quote

import anyio.to_thread

from asgiforge.runtime._conditional import is_not_modified as _is_not_modified
from asgiforge.runtime._conditional import read_small_file
from asgiforge.runtime._static_cache import CachedFile, FileCache, identity
from asgiforge.runtime._utils import get_route_path
from asgiforge.runtime.datastructures import Headers
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.responses import (
    FileResponse,
    RedirectResponse,
    Response,
)
from asgiforge.runtime.types import Receive, Scope, Send
from asgiforge.runtime.websockets import WebSocketClose

__all__ = ["NotModifiedResponse", "StaticFiles"]

PathLike = str | os.PathLike[str]

# Set (to anything but "0") by `asgiforge dev` before it imports the app: files are then checked
# and read afresh on every request (`revalidate_interval` 0 unless given).
DEV_ENV = "ASGIFORGE_DEV"

# On POSIX, joining the `/`-separated parts is the path without its leading slashes.
_POSIX = os.sep == "/" and os.altsep is None

# Characters left as they are in the redirect Location's path and query.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


class NotModifiedResponse(Response):
    """A 304 keeping only the headers RFC 9110 §15.4.5 says a 304 should repeat."""

    NOT_MODIFIED_HEADERS = (
        "cache-control",
        "content-location",
        "date",
        "etag",
        "expires",
        "vary",
    )

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__(
            status_code=304,
            headers={
                name: value
                for name, value in headers.items()
                if name.lower() in self.NOT_MODIFIED_HEADERS
            },
        )


class StaticFiles:
    """An ASGI app serving the files under `directory` and/or packages' static folders.

    `packages` items are a package name (its `statics` folder) or `(package, folder)`.
    `html=True` serves `index.html` for directories (redirecting `/dir` to `/dir/`) and
    `404.html`, when present, for misses. Directories are checked at construction
    (`check_dir`) and again on the first request (`check_config`).
    """

    # Resolved roots by directory, with the (device, inode) they were resolved for (see _root).
    _roots: dict[PathLike, tuple[tuple[int, int], str]]
    # The small-file cache (see `_static_cache`), made on first use from the settings below.
    _cache: FileCache | None = None
    # Defaults, also for subclasses that skip __init__ (see the constructor's docstring).
    cache_max_file_size = 64 * 1024
    cache_max_bytes = 8 * 1024 * 1024
    revalidate_interval: float | None = None

    def __init__(
        self,
        *,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
        cache_max_file_size: int = 64 * 1024,
        cache_max_bytes: int = 8 * 1024 * 1024,
        revalidate_interval: float | None = None,
    ) -> None:
        """Starlette's arguments, plus the small-file cache's (asgiforge only):

        Files of at most `cache_max_file_size` bytes are kept in memory, `cache_max_bytes` in
        all (least recently used first out), so a plain GET/HEAD for one is answered without a
        worker thread while its last full check (resolution, containment, stat) is less than
        `revalidate_interval` seconds old: an edited, replaced or deleted file is served as it
        now is within that interval, and at once to conditional and range requests, which always
        check the disk. The interval is 1.0 s by default, and 0 (no caching: every request
        checked and read afresh, as in Starlette) when the `ASGIFORGE_DEV` environment variable
        is set, as `asgiforge dev` does. `cache_max_bytes=0` also turns the cache off.
        """
        if cache_max_file_size < 0 or cache_max_bytes < 0:
            raise ValueError("cache_max_file_size and cache_max_bytes must be >= 0")
        if revalidate_interval is not None and not revalidate_interval >= 0:
            raise ValueError(f"revalidate_interval must be >= 0, got {revalidate_interval!r}")
        self.directory = directory
        self.packages = packages
        self.all_directories = self.get_directories(directory, packages)
        self.html = html
        self.config_checked = False
        self.follow_symlink = follow_symlink
        self.cache_max_file_size = cache_max_file_size
        self.cache_max_bytes = cache_max_bytes
        self.revalidate_interval = revalidate_interval
        if check_dir and directory is not None and not os.path.isdir(directory):
            raise RuntimeError(f"Directory '{directory}' does not exist")

    def get_directories(
        self,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
    ) -> list[PathLike]:
        """The directories to search, in order: `directory` first, then each package's."""
        directories: list[PathLike] = []
        if directory is not None:
            directories.append(directory)
        for package in packages or []:
            if isinstance(package, tuple):
                package, statics_dir = package
            else:
                statics_dir = "statics"
            spec = importlib.util.find_spec(package)
            if spec is None or spec.origin is None:
                raise RuntimeError(f"Package {package!r} could not be found.")
            package_directory = os.path.normpath(os.path.join(spec.origin, "..", statics_dir))
            if not os.path.isdir(package_directory):
                raise RuntimeError(
                    f"Directory {statics_dir!r} in package {package!r} could not be found."
                )
            directories.append(package_directory)
        return directories

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # nothing to serve: a normal close, as in Starlette
            await WebSocketClose()(scope, receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"StaticFiles only serves HTTP, not {scope['type']!r} scopes")
        if not self.config_checked:
            await self.check_config()
            self.config_checked = True
        # A 404/405 is an HTTPException, as in Starlette: the App's handlers answer it (a bare
        # StaticFiles, with no App around it, leaves it to the server).
        response = await self.get_response(self.get_path(scope), scope)
        await response(scope, receive, send)

    def get_path(self, scope: Scope) -> str:
        """The request's path below the mount point, as a normalised relative OS path."""
        route_path = get_route_path(scope)
        if _POSIX:  # the same result as the portable form below, in a fifth of the time
            return os.path.normpath(route_path.lstrip("/"))
        return os.path.normpath(os.path.join(*route_path.split("/")))

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The response for `path` (from `get_path`); raises HTTPException for 404/405."""
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        content: bytes | None
        cache = self._file_cache()
        # Conditional and range requests are answered from the disk as it is now: a 304 or a
        # byte range must never be computed from a copy that may be up to an interval old.
        hit = None if cache is None or _is_conditional(scope, _UNCACHED) else cache.fresh(path)
        if hit is not None:
            if hit.is_index and not scope["path"].endswith("/"):
                return RedirectResponse(_directory_location(scope))
            if type(self).file_response is _FILE_RESPONSE:
                return _copy(hit.template)  # what file_response would build, ready-made
            full_path, stat_result, content, index = (
                hit.full_path,
                hit.stat_result,
                hit.content,
                False,
            )
        else:
            stale = None if cache is None else cache.stale(path)
            found = await anyio.to_thread.run_sync(self._find, path, cache is not None, stale)
            if found is None:
                if cache is not None:
                    cache.discard(path)
                return await self._not_found()
            full_path, stat_result, content, index = found
            if cache is not None:  # updated here, on the event loop: one thread owns it
                if content is None:
                    cache.discard(path)
                else:
                    template = FileResponse(full_path, stat_result=stat_result)
                    template._content = content
                    cache.store(path, full_path, stat_result, content, index, template)
        if index and not scope["path"].endswith("/"):
            return RedirectResponse(_directory_location(scope))
        response = self.file_response(full_path, stat_result, scope)
        if (
            content is not None
            and type(response) is FileResponse
            and response.stat_result is stat_result
        ):
            response._content = content
        return response

    async def _not_found(self) -> Response:
        """`404.html` with status 404 in html mode, when there is one; else HTTPException(404)."""
        if self.html:
            full_path, stat_result = await anyio.to_thread.run_sync(self.lookup_path, "404.html")
            if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
                return FileResponse(full_path, stat_result=stat_result, status_code=404)
        raise HTTPException(status_code=404)

    def _file_cache(self) -> FileCache | None:
        """This instance's cache, (re)made when the settings it depends on changed; None when
        caching is off (`revalidate_interval` 0, as under `asgiforge dev`, or no budget)."""
        config = (
            tuple(self.all_directories),
            self.follow_symlink,
            self.html,
            self.cache_max_file_size,
            self.cache_max_bytes,
            self.revalidate_interval,
        )
        cache: FileCache | None = getattr(self, "_cache", None)
        if cache is not None and cache.config == config:
            return cache
        interval = self.revalidate_interval
        if interval is None:
            interval = 0.0 if os.environ.get(DEV_ENV, "") not in ("", "0") else 1.0
        if interval <= 0 or self.cache_max_bytes <= 0:
            self._cache = None
            return None
        cache = FileCache(self.cache_max_file_size, self.cache_max_bytes, interval, config)
        self._cache = cache
        return cache

    def _find(
        self, path: str, caching: bool, stale: CachedFile | None
    ) -> tuple[str, os.stat_result, bytes | None, bool] | None:
        """Blocking, in one worker-thread call: `path`'s file (or, in html mode, its directory's
        `index.html`), with its content when small (up to `cache_max_file_size` if `caching`).

        Content is read only if the file is still the one `lookup_path` validated (same inode,
        size and mtime, see `read_small_file`); the `stale` cached copy is reused instead when
        the file's stat is unchanged and it was not changed just before it was read (see
        `_static_cache`). The cache itself is only touched on the event loop, by the caller.
        """
        full_path, stat_result = self.lookup_path(path)
        index = False
        if stat_result is not None and self.html and stat.S_ISDIR(stat_result.st_mode):
            index = True
            full_path, stat_result = self.lookup_path(os.path.join(path, "index.html"))
        if stat_result is None or not stat.S_ISREG(stat_result.st_mode):
            return None
        content = None
        if (
            stale is not None
            and not stale.racy
            and stale.full_path == full_path
            and stale.identity == identity(stat_result)
        ):
            content = stale.content
        limit = FileResponse.chunk_size
        if caching:
            limit = max(limit, self.cache_max_file_size)
        if content is None:
            content = read_small_file(full_path, stat_result, limit)
        return full_path, stat_result, content, index

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """The first `(full_path, stat)` for `path` inside a directory, or `("", None)`.

        Blocking (realpath, stat): called in a worker thread. Every failure is "not found".
        """
        if "\x00" in path or "\\" in path:
            return "", None
        resolve = os.path.abspath if self.follow_symlink else os.path.realpath
        for directory in self.all_directories:
            try:
                root = self._root(directory)
                full_path = resolve(os.path.join(directory, path))
                if os.path.commonpath([full_path, root]) != root:
                    # Outside this directory (`..`, a prefix sibling, a symlink out), unless the
                    # remembered root is stale (the directory was renamed): check afresh.
                    fresh = resolve(directory)
                    if fresh == root or os.path.commonpath([full_path, fresh]) != fresh:
                        continue
                return full_path, os.stat(full_path)
            except (
                OSError,
                ValueError,
            ):  # missing, ENOTDIR, EACCES, ENAMETOOLONG, ELOOP, bad chars
                continue
        return "", None

    def _root(self, directory: PathLike) -> str:
        """`directory` resolved as Starlette resolves it on every lookup (a relative one follows
        a later chdir, a symlinked one such as `current -> release-N` a redeploy), but without
        paying a `realpath` per request: the result is reused while `os.stat(directory)` still
        finds the same directory (device and inode). Blocking; raises OSError if it is gone.
        """
        if self.follow_symlink:
            return os.path.abspath(directory)  # no symlinks to resolve: cheap
        found = os.stat(directory)
        key = (found.st_dev, found.st_ino)
        roots: dict[PathLike, tuple[tuple[int, int], str]] | None
        roots = getattr(self, "_roots", None)
        if roots is None:
            roots = {}
            self._roots = roots
        known = roots.get(directory)
        if known is not None and known[0] == key:
            return known[1]
        root = os.path.realpath(directory)
        roots[directory] = (key, root)
        return root

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        if type(self).is_not_modified is StaticFiles.is_not_modified and not _is_conditional(scope):
            return response  # no validators in the request: it cannot be "not modified"
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    async def check_config(self) -> None:
        """Fail clearly, on the first request, when `directory` is missing or not a directory."""
        if self.directory is None:
            return
        try:
            stat_result = await anyio.to_thread.run_sync(os.stat, self.directory)
        except FileNotFoundError:
            raise RuntimeError(
                f"StaticFiles directory '{self.directory}' does not exist."
            ) from None
        if not (stat.S_ISDIR(stat_result.st_mode) or stat.S_ISLNK(stat_result.st_mode)):
            raise RuntimeError(f"StaticFiles path '{self.directory}' is not a directory.")

    def is_not_modified(self, response_headers: Headers, request_headers: Headers) -> bool:
        """Whether the request's validators match: If-None-Match first, else If-Modified-Since."""
        return _is_not_modified(response_headers, request_headers)


_VALIDATORS = frozenset({b"if-none-match", b"if-modified-since"})
# Requests with any of these never use the small-file cache.
_UNCACHED = _VALIDATORS | {b"range", b"if-range"}


def _is_conditional(scope: Scope, names: frozenset[bytes] = _VALIDATORS) -> bool:
    return not names.isdisjoint([name for name, _ in scope.get("headers", ())])


_FILE_RESPONSE = StaticFiles.file_response


def _copy(template: FileResponse) -> FileResponse:
    """A new FileResponse equal to `template` (built once for a cached file), at a fraction of
    the constructor's cost (no media type guess, no header building). Its header list is its
    own: `dispatch` code and middleware may change one response's headers."""
    response = FileResponse.__new__(FileResponse)
    response.__dict__.update(template.__dict__)
    response.raw_headers = list(template.raw_headers)
    response._headers = None  # a view over the template's list must not be shared
    return response


def _directory_location(scope: Scope) -> str:
    """`/dir` → `/dir/` as a path-only Location: never from the Host header, never `//host`."""
    path = scope.get("root_path", "") + get_route_path(scope)
    location = "/" + path.lstrip("/") + "/"
    location = quote(location, safe=_PATH_SAFE)
    query = scope.get("query_string", b"")
    if query:
        location += "?" + quote(query.decode("latin-1"), safe=_QUERY_SAFE)
    return location
