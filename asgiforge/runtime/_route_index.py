"""The router's lookup index, and the route list that tells the router when to rebuild it.

Why a module of its own: Starlette tries every route in order on every request. The router here
asks a `RouteIndex` which routes could possibly match a path and tries only those, still in
table order, so "first matching route wins" holds exactly while a large table costs about as much
as a small one. The index is pure start-up work (built on the first request after any change to
`router.routes`); the per-request part is one or two dict lookups.

The index never imports the route classes: `routing` tells it, in a `TrustedRoutes`, which classes
behave in ways it may rely on. A subclass that overrides `matches` or `handle`, or a route object
of some other kind, is always tried through its public methods. What it reads from a route is
derived from that route's public attributes; the router rebuilds the index when one of them is
assigned (routes tell the routers that watch them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, SupportsIndex

if TYPE_CHECKING:
    from asgiforge.runtime.routing import BaseRoute, Match, Route
    from asgiforge.runtime.types import Scope

    # `matches(scope)` with the route path already computed (the router computes it once).
    Matcher = Callable[[Scope, str], tuple[Match, Scope]]
    # (route, its matcher, whether a full match may await `route.app` instead of `handle`)
    Candidates = tuple[tuple[BaseRoute, Matcher, bool], ...]


@dataclass(frozen=True)
class TrustedRoutes:
    """Route classes whose behaviour the index may rely on while a subclass keeps it unchanged.

    - `path_matchers`: `_match_path(scope, route_path)` answers exactly as `matches(scope)`;
    - `app_handlers`: after a full match, `handle` only awaits `self.app`;
    - `single_path`: a non-None `_static_path` is the only path they can match;
    - `regex_decides`: `path_regex` alone decides whether a path can match, and `path_format`
      is the pattern it was compiled from;
    - `shortcut`: the class whose parameterless routes the router may dispatch without matching.
    """

    path_matchers: tuple[type[BaseRoute], ...]
    app_handlers: tuple[type[BaseRoute], ...]
    single_path: tuple[type[BaseRoute], ...]
    regex_decides: tuple[type[BaseRoute], ...]
    shortcut: type[Route]


def _keeps(route: BaseRoute, method: str, classes: tuple[type[BaseRoute], ...]) -> bool:
    """Whether `route` is one of `classes` and its type has not overridden `method`."""
    return any(
        isinstance(route, cls) and getattr(type(route), method) is getattr(cls, method)
        for cls in classes
    )


def _matcher(route: BaseRoute, trusted: TrustedRoutes) -> Matcher:
    """The fastest correct way to ask `route` whether it matches.

    Our own route classes accept the pre-computed route path; a subclass that overrides
    `matches` (or a foreign route object) is asked through its public `matches(scope)`.
    """
    if _keeps(route, "matches", trusted.path_matchers):
        return route._match_path  # type: ignore[attr-defined, no-any-return]

    def ask(scope: Scope, route_path: str) -> tuple[Match, Scope]:
        return route.matches(scope)

    return ask


def _static_path(route: BaseRoute, trusted: TrustedRoutes) -> str | None:
    """The single path `route` can match, if it is an unmodified parameterless route."""
    if _keeps(route, "matches", trusted.single_path):
        return route._static_path  # type: ignore[attr-defined, no-any-return]
    return None


def _path_regex(route: BaseRoute, trusted: TrustedRoutes) -> re.Pattern[str] | None:
    """The regex that decides alone whether `route` matches a path, when we know it does."""
    if _keeps(route, "matches", trusted.regex_decides):
        return route.path_regex  # type: ignore[attr-defined, no-any-return]
    return None


def _segment(path: str) -> str:
    """The first path segment: `users` for `/users/5`."""
    end = path.find("/", 1)
    return path[1:end] if end != -1 else path[1:]


def _literal_segment(route: BaseRoute, trusted: TrustedRoutes) -> str | None:
    """The first segment every path `route` matches must have, when it is fixed text.

    `/users/{id}` → `users`; `/{id}` or `/file-{n}` → None (any first segment may match).
    Read from `path_format` and confirmed against `path_regex` (a subclass may set them apart).
    """
    regex = _path_regex(route, trusted)
    if regex is None:
        return None
    path_format: str = route.path_format  # type: ignore[attr-defined]
    brace = path_format.find("{")
    literal = path_format if brace == -1 else path_format[:brace]
    end = literal.find("/", 1)
    if end == -1 or not regex.pattern.startswith("^" + re.escape(literal[: end + 1])):
        return None
    return literal[1:end]


class _Entry(NamedTuple):
    """What the index knows about one route, computed once per build."""

    position: int  # in the route table: candidates are always tried in this order
    route: BaseRoute
    matcher: Matcher
    static_path: str | None  # the one path it can match, for a parameterless route
    segment: str | None  # the fixed first segment all its paths have, if any
    path_regex: re.Pattern[str] | None  # decides alone whether a path matches, when known
    direct: bool  # a full match may await `route.app` instead of `route.handle`


class RouteIndex:
    """Which routes to try for a given path, always in table order.

    A route is skipped only when it provably cannot match the path: a parameterless route
    matches one exact path; a route whose pattern starts with a fixed segment (`/users/...`)
    matches only paths with that first segment. Skipping routes that cannot match never changes
    which route matches first, so Starlette's first-match-wins order holds exactly. Routes
    whose matching we cannot reason about (Host, subclasses overriding `matches`, foreign route
    objects) are always tried.

    - `static[path]`: candidates for an exact parameterless path (dynamic routes that could
      also match it are checked once, here, by running their regex against the path);
    - `by_segment[segment]`: candidates for other paths with that first segment;
    - `wildcards`: candidates for any other path.
    """

    __slots__ = ("by_segment", "exact", "static", "wildcards")

    def __init__(self, routes: Sequence[BaseRoute], trusted: TrustedRoutes) -> None:
        entries = []
        for position, route in enumerate(routes):
            static = _static_path(route, trusted)
            entries.append(
                _Entry(
                    position=position,
                    route=route,
                    matcher=_matcher(route, trusted),
                    static_path=static,
                    segment=None if static is not None else _literal_segment(route, trusted),
                    path_regex=_path_regex(route, trusted),
                    direct=_keeps(route, "handle", trusted.app_handlers),
                )
            )
        wild = [e for e in entries if e.static_path is None and e.segment is None]
        buckets: dict[str, list[_Entry]] = {}
        for entry in entries:
            if entry.static_path is None and entry.segment is not None:
                buckets.setdefault(entry.segment, []).append(entry)

        def ordered(chosen: Iterable[_Entry]) -> Candidates:
            by_position = sorted(chosen, key=lambda e: e.position)
            return tuple((e.route, e.matcher, e.direct) for e in by_position)

        self.wildcards: Candidates = ordered(wild)
        self.by_segment: dict[str, Candidates] = {
            segment: ordered([*bucket, *wild]) for segment, bucket in buckets.items()
        }
        self.static: dict[str, Candidates] = {}
        for entry in entries:
            path = entry.static_path
            if path is None or path in self.static:
                continue
            pool = [e for e in entries if e.static_path == path]
            for e in (*buckets.get(_segment(path), ()), *wild):
                if e.path_regex is None or e.path_regex.fullmatch(path) is not None:
                    pool.append(e)
            self.static[path] = ordered(pool)
        # `exact[path]`: the route that wins for an HTTP request to `path` whenever its method
        # is allowed, because it is the first candidate and an unmodified parameterless Route.
        # The router then skips the generic matching (no match tuple, no child scope dict).
        self.exact: dict[str, Route] = {}
        for path, candidates in self.static.items():
            first = candidates[0][0]
            if (
                type(first) is trusted.shortcut
                and first._static_path == path
                and candidates[0][2]  # handle() not overridden either
            ):
                self.exact[path] = first

    def candidates(self, route_path: str) -> Candidates:
        found = self.static.get(route_path)
        if found is not None:
            return found
        return self.by_segment.get(_segment(route_path), self.wildcards)


class RouteList(list["BaseRoute"]):
    """`router.routes`: a plain list that tells its router when it changes.

    Users (and Starlette code being ported) append to `app.routes` directly; the router's
    lookup index is rebuilt on the next request after any change.
    """

    def __init__(self, routes: Iterable[BaseRoute], on_change: Callable[[], None]) -> None:
        super().__init__(routes)
        self._on_change = on_change

    def _changed(self) -> None:
        self._on_change()

    def append(self, item: BaseRoute) -> None:
        super().append(item)
        self._changed()

    def extend(self, items: Iterable[BaseRoute]) -> None:
        super().extend(items)
        self._changed()

    def insert(self, index: SupportsIndex, item: BaseRoute) -> None:
        super().insert(index, item)
        self._changed()

    def remove(self, item: BaseRoute) -> None:
        super().remove(item)
        self._changed()

    def pop(self, index: SupportsIndex = -1) -> BaseRoute:
        item = super().pop(index)
        self._changed()
        return item

    def clear(self) -> None:
        super().clear()
        self._changed()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        super().sort(*args, **kwargs)
        self._changed()

    def reverse(self) -> None:
        super().reverse()
        self._changed()

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._changed()

    def __delitem__(self, index: Any) -> None:
        super().__delitem__(index)
        self._changed()

    def __iadd__(self, items: Iterable[BaseRoute]) -> RouteList:  # type: ignore[override, misc]
        super().__iadd__(items)
        self._changed()
        return self

    def __imul__(self, count: SupportsIndex) -> RouteList:
        super().__imul__(count)
        self._changed()
        return self
