"""The routing table as data, and the `--check` analysis CI runs on it.

Rows come from each route's own ``describe(prefix, host)`` (every runtime route class has one),
so there is no isinstance chain here. Objects without ``describe`` (plain Starlette or FastAPI
routes) are read by duck typing on Starlette's public attributes: ``path``, ``methods``,
``name``, ``endpoint``, ``routes``, ``app``, ``host``.

The check reports three problems:

* ``shadowed`` (an error): an earlier route (or a mount, whose prefix catches everything below
  it) matches every request a later route would, so the later one never runs. Decided by
  building a representative path for the later route (each parameter replaced by a value of its
  convertor, ``path`` parameters by a value containing ``/``) and matching it against the
  earlier route's pattern, compiled by the runtime's own path compiler; a later route with a
  custom convertor has no representative path and is never reported (no false alarms).
* ``url-collision`` (a warning): two routes at different paths share a name and the same
  parameters, so ``url_path_for`` can only ever build the first (one path with several
  handlers, GET and POST say, is fine).
* ``duplicate-name`` (a warning): two routes share a name with different parameters, so which
  one ``url_path_for`` builds depends on the keyword arguments.

Repeated names are warnings, not errors, because they are legal: Starlette accepts them and so
does the runtime (``url_path_for`` returns the first route that fits).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from asgiforge.errors import AppNotFoundError
from asgiforge.runtime._paths import PARAM_REGEX, path_pattern
from asgiforge.runtime.routeinfo import RouteInfo, describe_callable

__all__ = [
    "JSON_SCHEMA_VERSION",
    "Problem",
    "check_routes",
    "collect_routes",
    "filter_routes",
    "problem_to_json",
    "route_to_json",
    "top_level_routes",
]

JSON_SCHEMA_VERSION = 1
LEAF_KINDS = frozenset({"http", "websocket"})
CATCH_KINDS = frozenset({"mount", "static", "asgi"})
ProblemKind = Literal["shadowed", "url-collision", "duplicate-name"]
Severity = Literal["error", "warning"]

# convertor -> a representative value of it, for shadowing checks
_SAMPLES: dict[str, str] = {
    "str": "x7",
    "int": "7",
    "float": "7.5",
    "uuid": "6b3c2a8e-1d4f-4c6a-9b7e-2f1a0c9d8e7b",
    "path": "x7/y8",
}
_MAX_UNWRAP = 32


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of `check_routes`; `routes` are the rows involved, the culprit first.

    Only errors fail `asgiforge routes --check`; warnings are printed.
    """

    kind: ProblemKind
    message: str
    routes: tuple[RouteInfo, ...]
    severity: Severity = "error"


def top_level_routes(app: Any) -> Sequence[Any]:
    """The app's route list, looking through middleware that wraps it in ``.app``.

    Works for `App`, `Router`, Starlette and FastAPI applications, and an app wrapped in pure
    ASGI middleware (which conventionally keeps the next app as ``self.app``).
    """
    current = app
    for _ in range(_MAX_UNWRAP):
        routes = getattr(current, "routes", None)
        if routes is not None:
            return list(routes)
        router = getattr(current, "router", None)
        if router is not None and getattr(router, "routes", None) is not None:
            return list(router.routes)
        nxt = getattr(current, "app", None)
        if nxt is None or nxt is current:
            break
        current = nxt
    raise AppNotFoundError(
        f"cannot list routes: {type(app).__name__} has no routing table "
        "(expected an asgiforge App or Router, or a Starlette/FastAPI app)"
    )


def describe_route(route: Any, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
    """The rows one route reports: its own ``describe`` when it has one, else duck typing."""
    describe = getattr(route, "describe", None)
    if callable(describe):
        yield from describe(prefix, host)
    else:
        yield from _duck_describe(route, prefix, host)


def collect_routes(app: Any) -> list[RouteInfo]:
    """Every route of `app` in the order the router tries them, mounts flattened.

    A container (mount, static files, host, any ASGI app) whose app is one of asgiforge's own
    objects (the `Router` a `Mount(routes=...)` builds, `StaticFiles`) would be located at that
    class, in asgiforge's source: nothing the user wrote or can edit. It is located instead at
    the first of its own routes that is the user's code (where what it mounts is written), and
    nowhere when it has none.
    """
    rows = [row for route in top_level_routes(app) for row in describe_route(route)]
    return [
        _locate_in_users_code(row, rows[index + 1 :]) if _is_framework_container(row) else row
        for index, row in enumerate(rows)
    ]


_FRAMEWORK_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_framework_container(row: RouteInfo) -> bool:
    return row.kind not in LEAF_KINDS and row.file is not None and _is_framework(row.file)


def _is_framework(file: str) -> bool:
    return os.path.abspath(file).startswith(_FRAMEWORK_DIR)


def _locate_in_users_code(row: RouteInfo, following: Sequence[RouteInfo]) -> RouteInfo:
    """`row` located at its first descendant in the user's code, or nowhere."""
    file: str | None = None
    line: int | None = None
    for child in following:  # the flattened children come right after their container
        base = row.path.rstrip("/")
        below = row.kind == "host" or child.path == base or child.path.startswith(base + "/")
        if child.host != row.host or not below:
            break
        if child.file is not None and not _is_framework(child.file):
            file, line = child.file, child.line
            break
    return dataclasses.replace(row, file=file, line=line)


def _duck_describe(route: Any, prefix: str, host: str | None) -> Iterator[RouteInfo]:
    """Starlette/FastAPI routes, read through their public attributes only."""
    route_host = getattr(route, "host", None)
    if isinstance(route_host, str) and getattr(route, "path", None) is None:
        name = getattr(route, "name", None)
        yield RouteInfo(kind="host", path=prefix or "/", name=name, host=route_host)
        for child in getattr(route, "routes", None) or ():
            yield from _namespaced(describe_route(child, prefix, route_host), name)
        return
    path = prefix + str(getattr(route, "path", ""))
    name = getattr(route, "name", None)
    endpoint = getattr(route, "endpoint", None)
    if endpoint is not None:
        qualname, file, line = describe_callable(endpoint)
        is_ws = "websocket" in type(route).__name__.lower()
        methods = getattr(route, "methods", None)
        yield RouteInfo(
            kind="websocket" if is_ws else "http",
            path=path,
            name=name,
            methods=tuple(sorted(methods)) if methods and not is_ws else (),
            endpoint=qualname,
            file=file,
            line=line,
            host=host,
        )
        return
    inner = getattr(route, "app", None)
    children = getattr(route, "routes", None) or ()
    target = inner if inner is not None else route
    qualname, file, line = describe_callable(target)
    kind: Literal["mount", "static", "asgi"] = "mount" if children else "asgi"
    if "static" in type(target).__name__.lower():
        kind = "static"
    yield RouteInfo(
        kind=kind, path=path, name=name, endpoint=qualname, file=file, line=line, host=host
    )
    for child in children:
        yield from _namespaced(describe_route(child, path, host), name)


def _namespaced(rows: Iterable[RouteInfo], namespace: str | None) -> Iterator[RouteInfo]:
    """Prefix child names with ``namespace:`` the way ``url_path_for`` expects them."""
    for row in rows:
        if namespace and row.name:
            yield RouteInfo(
                kind=row.kind,
                path=row.path,
                name=f"{namespace}:{row.name}",
                methods=row.methods,
                endpoint=row.endpoint,
                file=row.file,
                line=row.line,
                host=row.host,
                extra=row.extra,
            )
        else:
            yield row


# --- filters -------------------------------------------------------------------------------


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def filter_routes(
    rows: Iterable[RouteInfo],
    *,
    method: str | None = None,
    path: str | None = None,
    name: str | None = None,
) -> list[RouteInfo]:
    """Keep rows matching every given filter.

    `method` is case-insensitive (``WEBSOCKET`` or ``WS`` selects WebSocket routes; routes that
    accept every method match any); `path` is a glob when it contains ``*?[``, else a prefix;
    `name` is a glob, else a substring.
    """
    wanted = method.upper() if method else None
    result = []
    for row in rows:
        if wanted is not None and not _method_matches(row, wanted):
            continue
        if path is not None and not (
            fnmatch.fnmatchcase(row.path, path) if _is_glob(path) else row.path.startswith(path)
        ):
            continue
        if name is not None:
            row_name = row.name or ""
            if not (fnmatch.fnmatchcase(row_name, name) if _is_glob(name) else name in row_name):
                continue
        result.append(row)
    return result


def _method_matches(row: RouteInfo, wanted: str) -> bool:
    if row.kind == "websocket":
        return wanted in {"WEBSOCKET", "WS"}
    if row.kind != "http":
        return False
    return not row.methods or wanted in row.methods


# --- the check -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Catcher:
    """What an earlier route catches: a pattern over full paths, for some kinds and methods."""

    row: RouteInfo
    pattern: re.Pattern[str]
    kinds: frozenset[str]
    methods: frozenset[str] | None  # None: every method


def check_routes(app: Any) -> list[Problem]:
    """Shadowed routes, url_path_for collisions and duplicate names, in routing order."""
    problems: list[Problem] = []
    _check_level(top_level_routes(app), "", None, problems, depth=0)
    problems.extend(_name_problems(collect_routes(app)))
    return problems


def _check_level(
    routes: Sequence[Any], prefix: str, host: str | None, problems: list[Problem], depth: int
) -> None:
    """Compare siblings (earlier ones catch later ones), then recurse into each container."""
    if depth > _MAX_UNWRAP:
        return
    catchers: list[_Catcher] = []
    reported: set[int] = set()
    for route in routes:
        rows = list(describe_route(route, prefix, host))
        for row in rows:
            if row.kind not in LEAF_KINDS or id(row) in reported:
                continue
            sample = _sample_path(row.path)
            if sample is None:
                continue
            for catcher in catchers:
                if _catches(catcher, row, sample):
                    reported.add(id(row))
                    problems.append(_shadow_problem(catcher.row, row))
                    break
        catchers.extend(_catchers_of(route, rows, prefix, host))
        children = getattr(route, "routes", None)
        if children:
            child_host = getattr(route, "host", None)
            if not isinstance(child_host, str):
                child_host = host
            child_prefix = prefix + str(getattr(route, "path", "") or "")
            _check_level(list(children), child_prefix, child_host, problems, depth + 1)


def _catchers_of(
    route: Any, rows: list[RouteInfo], prefix: str, host: str | None
) -> Iterator[_Catcher]:
    is_container = bool(getattr(route, "routes", None)) or any(r.kind in CATCH_KINDS for r in rows)
    route_host = getattr(route, "host", None)
    if isinstance(route_host, str) and getattr(route, "path", None) is None:
        # A Host route takes every request for its host, whatever the path.
        row = rows[0] if rows else RouteInfo(kind="host", path=prefix or "/", host=route_host)
        yield _Catcher(row, re.compile(".*"), frozenset(LEAF_KINDS), None)
        return
    if is_container:
        mount_path = prefix + str(getattr(route, "path", "") or "")
        pattern = _compile(mount_path + "/{rest:path}")
        head = next((r for r in rows if r.kind in CATCH_KINDS), None)
        if pattern is not None:
            row = head or RouteInfo(kind="mount", path=mount_path, host=host)
            yield _Catcher(row, pattern, frozenset(LEAF_KINDS), None)
        return
    for row in rows:
        if row.kind not in LEAF_KINDS:
            continue
        pattern = _compile(row.path)
        if pattern is None:
            continue
        methods = frozenset(m.upper() for m in row.methods) if row.methods else None
        yield _Catcher(row, pattern, frozenset({row.kind}), methods)


def _catches(catcher: _Catcher, row: RouteInfo, sample: str) -> bool:
    if row.kind not in catcher.kinds or row.host != catcher.row.host:
        return False
    if catcher.methods is not None:
        if not row.methods:
            return False  # the later route takes every method; the earlier only some
        if not {m.upper() for m in row.methods} <= catcher.methods:
            return False
    return catcher.pattern.fullmatch(sample) is not None


def _shadow_problem(earlier: RouteInfo, later: RouteInfo) -> Problem:
    methods = f"{','.join(later.methods)} " if later.methods else ""
    where = f" (host {later.host})" if later.host else ""
    return Problem(
        kind="shadowed",
        message=(
            f"{later.kind} route {methods}{later.path}{where} ({_label(later)}) is shadowed by "
            f"the earlier {earlier.kind} {earlier.path} ({_label(earlier)}): it can never match"
        ),
        routes=(later, earlier),
    )


def _label(row: RouteInfo) -> str:
    return row.name or row.endpoint or "unnamed"


def _compile(path: str) -> re.Pattern[str] | None:
    """A full-path regex, from the runtime's path compiler; None when a convertor is unknown."""
    try:
        return path_pattern(path)
    except ValueError:
        return None


def _sample_path(path: str) -> str | None:
    """A representative concrete path for `path`; None when a convertor is unknown."""
    unknown = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unknown
        sample = _SAMPLES.get((match.group(2) or ":str")[1:])
        if sample is None:
            unknown = True
            return ""
        return sample

    sample = PARAM_REGEX.sub(replace, path)
    return None if unknown else sample


def _params(path: str) -> frozenset[str]:
    return frozenset(m.group(1) for m in PARAM_REGEX.finditer(path))


def _name_problems(rows: Sequence[RouteInfo]) -> Iterator[Problem]:
    by_name: dict[tuple[str | None, str], list[RouteInfo]] = {}
    for row in rows:
        if row.name and row.kind != "host":
            by_name.setdefault((row.host, row.name), []).append(row)
    for (_, name), group in by_name.items():
        # One URL with several handlers (GET and POST, say) is nothing ambiguous: one row per path.
        by_path: dict[str, RouteInfo] = {}
        for row in group:
            by_path.setdefault(row.path, row)
        distinct = list(by_path.values())
        first = distinct[0]
        for other in distinct[1:]:
            if _params(other.path) == _params(first.path):
                yield Problem(
                    kind="url-collision",
                    message=(
                        f"url_path_for({name!r}) always builds {first.path}; "
                        f"{other.kind} route {other.path} with the same name and parameters "
                        "can never be built"
                    ),
                    routes=(other, first),
                    severity="warning",
                )
            else:
                yield Problem(
                    kind="duplicate-name",
                    message=(
                        f"name {name!r} is used by both {first.path} and {other.path}: "
                        "url_path_for picks one by its keyword arguments"
                    ),
                    routes=(other, first),
                    severity="warning",
                )


# --- JSON ----------------------------------------------------------------------------------


def route_to_json(row: RouteInfo) -> dict[str, Any]:
    """One route in the stable `asgiforge routes --json` schema (see the command's help)."""
    return {
        "kind": row.kind,
        "methods": list(row.methods),
        "path": row.path,
        "host": row.host,
        "name": row.name,
        "endpoint": row.endpoint,
        "file": row.file,
        "line": row.line,
    }


def problem_to_json(problem: Problem) -> dict[str, Any]:
    """One finding of `--check` in the JSON schema: kind, severity, message, paths involved."""
    return {
        "kind": problem.kind,
        "severity": problem.severity,
        "message": problem.message,
        "paths": [row.path for row in problem.routes],
        "names": [row.name for row in problem.routes],
    }
