"""Routing: map a request's path (and host, and method) to the endpoint that answers it.

The public API is Starlette's: `Route`, `WebSocketRoute`, `Mount`, `Host`, `Router`, `Match`,
`BaseRoute`, `NoMatchFound`, `compile_path`, `request_response`, `websocket_session`, `get_name`.

Differences users gain from:
- Route tables are checked when built: a path without a leading `/`, an unknown convertor or a
  duplicated parameter raise `ValueError` right away, not an `assert`; braces that are not a
  parameter stay literal (as in Starlette) with a `PathPatternWarning` when they look mistyped.
- The router looks static paths up in a dict before trying patterns, while keeping Starlette's
  "first matching route wins" order exactly (see `asgiforge.runtime._route_index`).
- Slash redirects use a relative `Location` built from the routed path only: never a host taken
  from the `Host` header, never a `//` (protocol-relative) URL.

Frameworks subclass these classes, often with their own `__init__` that sets only Starlette's
public attributes (`path`, `endpoint`, `methods`, `path_regex`, `path_format`, `param_convertors`,
`name`, `app`, `routes`, ...), and assign them again later. Those public attributes are the
state: the fast-path values derived from them are computed on first use and forgotten when one
of them is assigned (see `_DerivedState`).
"""

from __future__ import annotations

import ipaddress
import re
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol
from urllib.parse import quote

from asgiforge.runtime._adapters import is_function, request_response, websocket_session
from asgiforge.runtime._paths import PARAM_FORMAT_REGEX as PARAM_FORMAT_REGEX
from asgiforge.runtime._paths import PARAM_REGEX as PARAM_REGEX
from asgiforge.runtime._paths import ParamConverters, compile_path, convert_params, param_converters
from asgiforge.runtime._paths import PathPatternWarning as PathPatternWarning
from asgiforge.runtime._paths import replace_params as replace_params
from asgiforge.runtime._route_index import RouteIndex, RouteList, TrustedRoutes
from asgiforge.runtime._utils import get_route_path
from asgiforge.runtime.datastructures import URLPath
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.lifespan import LifespanHandler, normalize_lifespan
from asgiforge.runtime.middleware.body_limit import RequestBodyLimitMiddleware
from asgiforge.runtime.routeinfo import RouteInfo, RouteKind, describe_callable
from asgiforge.runtime.types import ASGIApp, Lifespan, Receive, Scope, Send

if TYPE_CHECKING:
    from asgiforge.runtime.convertors import Convertor
    from asgiforge.runtime.middleware import Middleware

__all__ = [
    "BaseRoute",
    "Host",
    "Match",
    "Mount",
    "NoMatchFound",
    "Route",
    "Router",
    "WebSocketRoute",
    "compile_path",
    "get_name",
    "request_response",
    "websocket_session",
]


class NoMatchFound(Exception):
    """Raised by `url_path_for` when no route has that name with exactly those parameters."""

    def __init__(self, name: str, path_params: dict[str, Any], hint: str = "") -> None:
        self.name = name
        self.path_params = path_params
        params = ", ".join(path_params)  # in the order given, as Starlette words it
        message = f'No route exists for name "{name}" and params "{params}".'
        if hint:
            message = f"{message} {hint}"
        super().__init__(message)


class Match(Enum):
    """How well a route fits a request: not at all, by path only (wrong method), or fully."""

    NONE = 0
    PARTIAL = 1
    FULL = 2


# --------------------------------------------------------------------------- helpers


def get_name(endpoint: Callable[..., Any]) -> str:
    """The default route name: the function's or class's `__name__`."""
    return getattr(endpoint, "__name__", type(endpoint).__name__)


def _wrap_middleware(
    app: ASGIApp, middleware: Sequence[Middleware] | None, max_body_size: int | None = None
) -> ASGIApp:
    """Wrap `app` in its route-level middleware, then (outermost) its body limit, if any.

    No limit, no wrapper: routes without `max_body_size` pay nothing per request.
    """
    for cls, args, kwargs in reversed(middleware or ()):
        app = cls(app, *args, **kwargs)
    if max_body_size is not None:
        app = RequestBodyLimitMiddleware(app, max_body_size=max_body_size)
    return app


def _check_route_path(path: str, kind: str) -> None:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"{kind} paths must start with '/', got {path!r}.")


def _url_path(path: str, protocol: str = "", host: str = "") -> URLPath:
    """A `URLPath` that a browser reads as a path on this host, whatever the parameters held.

    A `path` parameter may start with `/` or hold `\\`: a URL beginning `//` (or `/\\`, which
    browsers treat alike) would name another host, so those are percent-encoded, as in
    Starlette.
    """
    path = path.replace("\\", "%5C")
    if path.startswith("//"):
        path = "/%2F" + path[2:]
    return URLPath(path=path, protocol=protocol, host=host)


# A Host header: a reg-name (RFC 3986) or a bracketed IP literal, then an optional numeric port.
_HOST_HEADER = re.compile(
    r"(?P<host>[a-z0-9._~%!$&'()*+,;=-]+|\[(?:(?P<ipv6>[a-f0-9]*:[a-f0-9.:]+)"
    r"|(?-i:v)[a-f0-9]+\.[a-z0-9._~!$&'()*+,;=:-]+)\])(?::[0-9]+)?",
    re.IGNORECASE,
)


def _request_host(scope: Scope) -> str | None:
    """The request's host name, lower-cased, without port; None when absent or malformed.

    A malformed value (`example.org:evil`, `[:::]`) matches no `Host` route rather than being
    cut at the first `:` into something that might.
    """
    for key, value in scope.get("headers") or ():
        if key == b"host":
            found = _HOST_HEADER.fullmatch(value.decode("latin-1"))
            if found is None:
                return None
            ipv6 = found["ipv6"]
            if ipv6 is not None:
                try:
                    ipaddress.IPv6Address(ipv6)
                except ValueError:
                    return None
            return found["host"].lower()
    return None


# --------------------------------------------------------------------------- plain responses
# Sent as raw ASGI messages: the router's own answers need no Response object, and the header
# lists are encoded once.

_NOT_FOUND_START = {
    "type": "http.response.start",
    "status": 404,
    "headers": [(b"content-length", b"9"), (b"content-type", b"text/plain; charset=utf-8")],
}
_NOT_FOUND_BODY = {"type": "http.response.body", "body": b"Not Found"}


async def _send_not_found(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000, "reason": ""})
        return
    await send(dict(_NOT_FOUND_START))
    await send(dict(_NOT_FOUND_BODY))


async def _send_redirect(send: Send, location: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 307,
            "headers": [(b"content-length", b"0"), (b"location", location)],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _send_plain(
    send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]]
) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"text/plain; charset=utf-8"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- routes


class BaseRoute:
    """What every route provides: `matches`, `handle`, `url_path_for` and `describe`."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raise NotImplementedError()

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NotImplementedError()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError()

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """Rows for `asgiforge routes`; custom routes show as a generic ASGI entry."""
        name, file, line = describe_callable(self)
        path = prefix + str(getattr(self, "path", ""))
        yield RouteInfo(
            kind="asgi",
            path=path,
            name=getattr(self, "name", None),
            endpoint=name,
            file=file,
            line=line,
            host=host,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A route used on its own as an ASGI app: 404 (or close) when it does not match."""
        match, child_scope = self.matches(scope)
        if match is Match.NONE:
            if scope["type"] in ("http", "websocket"):
                await _send_not_found(scope, send)
            return
        scope.update(child_scope)
        await self.handle(scope, receive, send)


class _Watcher(Protocol):
    def _invalidate(self) -> None: ...


class _DerivedState(BaseRoute):
    """A fast-path value derived lazily from public attributes, forgotten when those change.

    Why: a framework's route subclass may never call our `__init__` (it sets Starlette's public
    attributes itself) and may assign them again later, as Starlette allows, since its
    `matches()` reads only public attributes. `_derived` (None until needed) is computed by
    `_derive()` from the public attributes on first use and reset when an attribute named in
    `_derived_from` is assigned. Routers whose lookup index relies on this route's patterns
    `_watch` it and are told to rebuild their index then.

    Why not `__getattr__` or a descriptor: either one stops CPython from specialising the
    attribute reads of these objects, which are on every request's path; a plain class
    attribute default costs one `is None` test.
    """

    _derived_from: ClassVar[frozenset[str]] = frozenset()
    _derived: Any = None
    # id(router) -> weak reference: by identity, because a Router subclass that defines
    # `__eq__` alone is unhashable and could not join a WeakSet.
    _watchers: dict[int, weakref.ref[_Watcher]] | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in self._derived_from:
            self._forget()

    def _forget(self) -> None:
        object.__setattr__(self, "_derived", None)
        watchers = self._watchers
        if watchers:
            for ref in list(watchers.values()):
                watcher = ref()
                if watcher is not None:
                    watcher._invalidate()

    def _watch(self, watcher: _Watcher) -> None:
        """Call `watcher._invalidate()` whenever a pattern attribute is assigned."""
        watchers = self._watchers
        if watchers is None:
            watchers = {}
            object.__setattr__(self, "_watchers", watchers)
        key = id(watcher)
        if key not in watchers:

            def forget(_: object, key: int = key) -> None:
                watchers.pop(key, None)

            watchers[key] = weakref.ref(watcher, forget)

    def _derive(self) -> Any:
        """Compute `_derived` from the public attributes, store it and return it."""
        raise NotImplementedError()

    def __getstate__(self) -> dict[str, Any]:
        """A copy starts with no derived state and no watching routers of its own original."""
        state = dict(self.__dict__)
        state.pop("_derived", None)
        state.pop("_watchers", None)
        return state


class _Fast(NamedTuple):
    """What `_EndpointRoute` derives from its public attributes for the per-request path."""

    static_path: str | None  # the only path it matches, when it has no parameters
    convert: ParamConverters  # (name, convertor.convert) for each parameter


def _literal_path(path_regex: re.Pattern[str], path_format: str) -> str | None:
    """`path_format` when `path_regex` matches exactly that text and nothing else."""
    expected = "^" + re.escape(path_format) + "$"
    if path_regex.pattern != expected or path_regex.flags & ~re.UNICODE:
        return None
    return path_format


class _EndpointRoute(_DerivedState):
    """What Route and WebSocketRoute share: one endpoint behind one compiled path pattern.

    Both name the endpoint the same way, match the path and convert its parameters the same
    way (a parameterless path is compared as a string, no regex), and build URLs the same way;
    they differ in the scope type they answer (`_scope_type`, also the protocol of their URLs),
    in how a function endpoint is adapted, and in HTTP's method check.
    """

    _scope_type: ClassVar[str]
    app: ASGIApp
    path: str
    endpoint: Callable[..., Any]
    name: str
    path_regex: re.Pattern[str]
    path_format: str
    param_convertors: dict[str, Convertor[Any]]

    _derived_from = frozenset({"path", "path_regex", "path_format", "param_convertors"})
    _derived: _Fast | None

    def __init__(self, path: str, endpoint: Callable[..., Any], name: str | None) -> None:
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    def _derive(self) -> _Fast:
        convertors = self.param_convertors
        static = None if convertors else _literal_path(self.path_regex, self.path_format)
        fast = _Fast(static, param_converters(convertors))
        object.__setattr__(self, "_derived", fast)
        return fast

    @property
    def _static_path(self) -> str | None:
        """The only path this route matches when it has no parameters (for the index)."""
        fast = self._derived
        return (fast or self._derive()).static_path

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != self._scope_type:
            return Match.NONE, {}
        return self._match_path(scope, get_route_path(scope))

    def _match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """`matches` with the route path already computed (the router computes it once)."""
        raise NotImplementedError()

    def _path_params(self, scope: Scope, route_path: str) -> dict[str, Any] | None:
        """The scope's `path_params` with this route's own added, or None when it does not match."""
        fast = self._derived
        if fast is None:
            fast = self._derive()
        static_path, converters = fast  # unpacked: faster than two named-field reads
        if static_path is not None:
            if route_path != static_path:
                return None
            parent = scope.get("path_params")
            return dict(parent) if parent else {}
        found = self.path_regex.fullmatch(route_path)
        if found is None:
            return None
        groups = found.groupdict()
        try:  # `convert_params`, inlined: this is the per-request path of every routed request
            params = {key: convert(groups[key]) for key, convert in converters}
        except ValueError:
            return None
        parent = scope.get("path_params")
        if parent:
            path_params = dict(parent)
            path_params.update(params)
            return path_params
        return params

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if name != self.name or path_params.keys() != self.param_convertors.keys():
            raise NoMatchFound(name, path_params)
        path, _ = replace_params(self.path_format, self.param_convertors, path_params)
        return _url_path(path, self._scope_type)

    def _info(self, kind: RouteKind, prefix: str, host: str | None, **fields: Any) -> RouteInfo:
        endpoint, file, line = describe_callable(self.endpoint)
        return RouteInfo(
            kind=kind,
            path=prefix + self.path,
            name=self.name,
            endpoint=endpoint,
            file=file,
            line=line,
            host=host,
            **fields,
        )


class Route(_EndpointRoute):
    """An HTTP route: `path` (with `{param:type}` placeholders) → `endpoint`.

    A function or method endpoint receives a Request and returns a Response (sync ones run in
    the thread pool); a class (such as an HTTPEndpoint) or any other callable is treated as an
    ASGI app. `methods` defaults to GET for functions; GET routes also answer HEAD.
    """

    _scope_type = "http"

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        _check_route_path(path, "Routed")
        if not callable(endpoint):
            raise TypeError(f"Route {path!r}: endpoint must be callable, got {endpoint!r}.")
        self.include_in_schema = include_in_schema
        if is_function(endpoint):
            app: ASGIApp = request_response(endpoint)
            if methods is None:
                methods = ["GET"]
        else:
            app = endpoint
        self.app = _wrap_middleware(app, middleware, max_body_size)

        self.methods: set[str] | None
        if methods is None:
            self.methods = None
        else:
            if isinstance(methods, str):
                raise TypeError(f"Route {path!r}: methods must be a list like ['GET'], not a str.")
            self.methods = {method.upper() for method in methods}
            if "GET" in self.methods:
                self.methods.add("HEAD")

        super().__init__(path, endpoint, name)

    def _match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path_params = self._path_params(scope, route_path)
        if path_params is None:
            return Match.NONE, {}
        child_scope = {"endpoint": self.endpoint, "path_params": path_params}
        methods = self.methods
        if methods and scope["method"] not in methods:
            return Match.PARTIAL, child_scope
        return Match.FULL, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = self.methods
        if methods and scope["method"] not in methods:
            allow = ", ".join(sorted(methods))
            if "app" in scope:
                raise HTTPException(405, headers={"Allow": allow})
            header = [(b"allow", allow.encode("latin-1"))]
            await _send_plain(send, 405, "Method Not Allowed", header)
            return
        await self.app(scope, receive, send)

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        yield self._info(
            "http",
            prefix,
            host,
            methods=tuple(sorted(self.methods or ())),
            extra={
                "relative_path": self.path,
                "include_in_schema": getattr(self, "include_in_schema", True),
            },
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Route)
            and self.path == other.path
            and self.endpoint == other.endpoint
            and self.methods == other.methods
        )

    __hash__ = BaseRoute.__hash__

    def __repr__(self) -> str:
        methods = sorted(self.methods or [])
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r}, methods={methods!r})"


class WebSocketRoute(_EndpointRoute):
    """A WebSocket route: a function endpoint receives a WebSocket; a class is an ASGI app."""

    _scope_type = "websocket"

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        _check_route_path(path, "Routed")
        if not callable(endpoint):
            raise TypeError(f"WebSocketRoute {path!r}: endpoint must be callable.")
        app: ASGIApp = websocket_session(endpoint) if is_function(endpoint) else endpoint
        self.app = _wrap_middleware(app, middleware)
        super().__init__(path, endpoint, name)

    def _match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        if scope["type"] != "websocket":
            return Match.NONE, {}
        path_params = self._path_params(scope, route_path)
        if path_params is None:
            return Match.NONE, {}
        return Match.FULL, {"endpoint": self.endpoint, "path_params": path_params}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        yield self._info("websocket", prefix, host, extra={"relative_path": self.path})

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, WebSocketRoute)
            and self.path == other.path
            and self.endpoint == other.endpoint
        )

    __hash__ = BaseRoute.__hash__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r})"


def _mounted_routes(app: Any) -> list[BaseRoute]:
    """The mounted app's own route list (not a copy: appending to it routes, as in Starlette)."""
    routes = getattr(app, "routes", None)
    if routes is None:
        return []
    return routes if isinstance(routes, list) else list(routes)


def _prefixed(info: RouteInfo, mount_name: str | None) -> RouteInfo:
    if mount_name is None or info.name is None:
        return info
    return replace(info, name=f"{mount_name}:{info.name}")


def _url_path_for_children(
    routes: Iterable[BaseRoute], name: str, path_params: dict[str, Any]
) -> URLPath | None:
    for route in routes:
        try:
            return route.url_path_for(name, **path_params)
        except NoMatchFound:
            pass
    return None


class _RouteGroup(_DerivedState):
    """What Mount and Host share: a name that prefixes their children's names.

    Both resolve `url_path_for("group:child", ...)` the same way — take their own pattern's
    parameters, ask the children with the rest — and list their children after their own row in
    `describe`. The subclasses supply only what differs: the URL for the group itself
    (`name` plus `path=`) and how their own part combines with a child's URL.
    """

    name: str | None
    param_convertors: dict[str, Convertor[Any]]
    # Whether a `path` parameter always belongs to the children (Mount's `{path:path}` tail).
    _child_owns_path: ClassVar[bool] = False

    @property
    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError()

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            own_url = self._url_path_for_self(dict(path_params))
            if own_url is not None:
                return own_url
        elif self.name is None or name.startswith(self.name + ":"):
            child_name = name if self.name is None else name[len(self.name) + 1 :]
            params = dict(path_params)
            child_path = params.pop("path", None) if self._child_owns_path else None
            # The group's own parameters; any not given stay `{placeholders}`, as in Starlette.
            own = {key: params.pop(key) for key in list(params) if key in self.param_convertors}
            if child_path is not None:
                params["path"] = child_path
            found = _url_path_for_children(self.routes, child_name, params)
            if found is not None:
                return self._join_child_url(own, found)
        raise NoMatchFound(name, path_params)

    def _url_path_for_self(self, params: dict[str, Any]) -> URLPath | None:
        """The group's own URL for `url_path_for(self.name, path=..., ...)`; None if incomplete."""
        raise NotImplementedError()

    def _join_child_url(self, own: dict[str, Any], found: URLPath) -> URLPath:
        """A child's URL placed under this group, given the group's own parameters."""
        raise NotImplementedError()

    def _describe_children(
        self, routes: Iterable[BaseRoute], prefix: str, host: str | None
    ) -> Iterator[RouteInfo]:
        for route in routes:
            describe = getattr(route, "describe", None)
            if describe is not None:
                for info in describe(prefix, host):
                    yield _prefixed(info, self.name)


class Mount(_RouteGroup):
    """Everything under `path` goes to a sub-application or a list of `routes`.

    The sub-app sees `scope["root_path"]` extended by the matched prefix, so it routes on the
    remainder; path params captured by the mount are merged into the children's.
    """

    _child_owns_path = True
    _derived_from = frozenset({"path_regex", "path_format", "param_convertors"})
    _derived: ParamConverters | None
    path: str
    path_regex: re.Pattern[str]
    path_format: str
    app: ASGIApp

    def __init__(
        self,
        path: str,
        app: ASGIApp | None = None,
        routes: Sequence[BaseRoute] | None = None,
        name: str | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        if path != "":
            _check_route_path(path, "Mount")
        if app is None and routes is None:
            raise ValueError(f"Mount {path!r}: pass either app=... or routes=[...].")
        if app is not None and routes is not None:
            raise ValueError(f"Mount {path!r}: pass app=... or routes=[...], not both.")
        self.path = path.rstrip("/")
        self._base_app: ASGIApp = app if app is not None else Router(routes=routes)
        self.app = _wrap_middleware(self._base_app, middleware, max_body_size)
        self.name = name
        self.path_regex, self.path_format, self.param_convertors = compile_path(
            self.path + "/{path:path}"
        )

    def _derive(self) -> ParamConverters:
        convert = param_converters(self.param_convertors, skip="path")
        object.__setattr__(self, "_derived", convert)
        return convert

    def _base(self) -> ASGIApp:
        """The mounted app inside any route-level middleware (a subclass may not set one)."""
        base: ASGIApp | None = getattr(self, "_base_app", None)
        return self.app if base is None else base

    @property
    def routes(self) -> list[BaseRoute]:
        return _mounted_routes(self._base())

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket"):
            return Match.NONE, {}
        return self._match_path(scope, get_route_path(scope))

    def _match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        found = self.path_regex.fullmatch(route_path)
        if found is None:
            return Match.NONE, {}
        groups = found.groupdict()
        convert = self._derived
        if convert is None:
            convert = self._derive()
        params = convert_params(groups, convert)
        if params is None:
            return Match.NONE, {}
        remaining_path = "/" + groups["path"]
        matched_path = route_path[: -len(remaining_path)]
        path_params = dict(scope.get("path_params") or {})
        path_params.update(params)
        root_path = scope.get("root_path", "")
        return Match.FULL, {
            "path_params": path_params,
            "app_root_path": scope.get("app_root_path", root_path),
            "root_path": root_path + matched_path,
            "endpoint": self.app,
        }

    def _url_path_for_self(self, params: dict[str, Any]) -> URLPath | None:
        # The mount itself, e.g. url_path_for("static", path="/css/site.css").
        params["path"] = str(params["path"]).lstrip("/")
        path, remaining = replace_params(self.path_format, self.param_convertors, params)
        return None if remaining else _url_path(path)

    def _join_child_url(self, own: dict[str, Any], found: URLPath) -> URLPath:
        own["path"] = ""
        prefix, _ = replace_params(self.path_format, self.param_convertors, own)
        return _url_path(prefix.rstrip("/") + str(found), found.protocol, found.host)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        full = prefix + self.path
        base = self._base()
        endpoint, file, line = describe_callable(base)
        children = getattr(base, "routes", None)
        kind: RouteKind
        if children is not None:
            kind = "mount"
        elif hasattr(base, "lookup_path") and hasattr(base, "get_response"):
            kind = "static"
        else:
            kind = "asgi"
        yield RouteInfo(
            kind=kind,
            path=full or "/",
            name=self.name,
            endpoint=endpoint,
            file=file,
            line=line,
            host=host,
            extra={"relative_path": self.path},
        )
        yield from self._describe_children(children or (), full, host)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mount) and self.path == other.path and self.app == other.app

    __hash__ = BaseRoute.__hash__

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{type(self).__name__}(path={self.path!r}, name={name!r}, app={self.app!r})"


class Host(_RouteGroup):
    """Route by the `Host` header (`{subdomain}.example.com`; any `:port` is ignored).

    Host names match case-insensitively and parameters receive them lower-cased; a malformed
    `Host` header matches no Host route.
    """

    _derived_from = frozenset({"host_regex", "host_format", "param_convertors"})
    _derived: ParamConverters | None
    host: str
    host_regex: re.Pattern[str]
    host_format: str
    app: ASGIApp

    def __init__(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        if not isinstance(host, str) or host.startswith("/"):
            raise ValueError(f"Host patterns must not start with '/', got {host!r}.")
        self.host = host
        self.app = app
        self.name = name
        self.host_regex, self.host_format, self.param_convertors = compile_path(host)

    def _derive(self) -> ParamConverters:
        convert = param_converters(self.param_convertors)
        object.__setattr__(self, "_derived", convert)
        return convert

    @property
    def routes(self) -> list[BaseRoute]:
        return _mounted_routes(self.app)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket"):
            return Match.NONE, {}
        return self._match_path(scope, "")

    def _match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        host = _request_host(scope)
        if host is None:
            return Match.NONE, {}
        found = self.host_regex.fullmatch(host)
        if found is None:
            return Match.NONE, {}
        convert = self._derived
        if convert is None:
            convert = self._derive()
        params = convert_params(found.groupdict(), convert)
        if params is None:
            return Match.NONE, {}
        path_params = dict(scope.get("path_params") or {})
        path_params.update(params)
        return Match.FULL, {"path_params": path_params, "endpoint": self.app}

    def _url_path_for_self(self, params: dict[str, Any]) -> URLPath | None:
        path = str(params.pop("path"))
        host, remaining = replace_params(self.host_format, self.param_convertors, params)
        return None if remaining else _url_path(path, host=host)

    def _join_child_url(self, own: dict[str, Any], found: URLPath) -> URLPath:
        host, _ = replace_params(self.host_format, self.param_convertors, own)
        return _url_path(str(found), found.protocol, host)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        endpoint, file, line = describe_callable(self.app)
        yield RouteInfo(
            kind="host",
            path=prefix or "/",
            name=self.name,
            endpoint=endpoint,
            file=file,
            line=line,
            host=self.host,
        )
        yield from self._describe_children(self.routes, prefix, self.host)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Host) and self.host == other.host and self.app == other.app

    __hash__ = BaseRoute.__hash__

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{type(self).__name__}(host={self.host!r}, name={name!r}, app={self.app!r})"


# --------------------------------------------------------------------------- router

_REDIRECT_SAFE = "/!$&'()*+,;=:@-._~"
_QUERY_SAFE = "/!$&'()*+,;=:@-._~?%[]"


# What the lookup index may rely on for our own route classes (see `_route_index`).
_TRUSTED = TrustedRoutes(
    path_matchers=(Route, WebSocketRoute, Mount, Host),
    app_handlers=(Route, WebSocketRoute, Mount),
    single_path=(Route, WebSocketRoute),
    regex_decides=(Route, WebSocketRoute, Mount),
    shortcut=Route,
)


class Router:
    """Dispatch to the first matching route; also runs the lifespan protocol.

    No match → 404 (through the exception handlers when inside an App), a path match with the
    wrong method → 405 with `Allow`, and with `redirect_slashes` a 307 to the same path with the
    trailing slash toggled when that one would match. The matched route is `scope["route"]`.

    Route names may repeat, as in Starlette (`url_path_for` returns the first route whose name
    and parameters fit); `asgiforge routes --check` reports repeats that look like mistakes.
    """

    # Built on the first request after any change; a subclass need not call our __init__.
    _index: RouteIndex | None = None

    def __init__(
        self,
        routes: Sequence[BaseRoute] | None = None,
        redirect_slashes: bool = True,
        default: ASGIApp | None = None,
        lifespan: Lifespan[Any] | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        self.routes = routes or []
        self.redirect_slashes = redirect_slashes
        self.default: ASGIApp = self.not_found if default is None else default
        # Always a callable `app -> async context manager`, as in Starlette (frameworks call it
        # to compose lifespans); it may be reassigned, and the lifespan run uses the current one.
        self.lifespan_context: Callable[[Any], Any] = normalize_lifespan(lifespan)
        self.middleware_stack: ASGIApp = _wrap_middleware(self.app, middleware, max_body_size)

    @property
    def routes(self) -> list[BaseRoute]:
        return self._routes

    @routes.setter
    def routes(self, routes: Iterable[BaseRoute]) -> None:
        self._routes = RouteList(routes, self._invalidate)
        self._invalidate()

    def _invalidate(self) -> None:
        self._index = None

    def _build_index(self) -> RouteIndex:
        index = RouteIndex(self._routes, _TRUSTED)
        for route in self._routes:
            if isinstance(route, _DerivedState):
                # Reassigning a route's pattern attributes must reach this index.
                route._watch(self)
        self._index = index
        return index

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The default for `default`: 404 (or a websocket close) when nothing matched."""
        if scope["type"] == "http" and "app" in scope:
            raise HTTPException(status_code=404)
        await _send_not_found(scope, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        found = _url_path_for_children(self._routes, name, path_params)
        if found is not None:
            return found
        raise NoMatchFound(name, path_params, _hint(self._routes, name))

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the lifespan protocol (see `asgiforge.runtime.lifespan`) with `lifespan_context`."""
        await LifespanHandler(self.lifespan_context)(scope, receive, send, self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.middleware_stack(scope, receive, send)

    def app(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """Dispatch `scope` to the route that matches it and hand back that route's awaitable.

        Why not a coroutine: it only picks the handler, so its own frame would stay alive for
        nothing through every request and every open WebSocket. `await router.app(...)` works
        as before; errors in dispatching itself are raised at the call.
        """
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            if scope_type == "lifespan":
                return self.lifespan(scope, receive, send)
            raise RuntimeError(
                f"Router cannot handle ASGI scope type {scope_type!r} "
                "(expected 'http', 'websocket' or 'lifespan')."
            )
        if "router" not in scope:
            scope["router"] = self
        # get_route_path(), inlined for the common case of no root_path.
        route_path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        index = self._index or self._build_index()
        if scope_type == "http":
            exact = index.exact.get(route_path)
            if exact is not None and (not exact.methods or scope["method"] in exact.methods):
                # What Route._match_path + scope.update would do for this full match.
                parent = scope.get("path_params")
                scope["route"] = exact
                scope["endpoint"] = exact.endpoint
                scope["path_params"] = dict(parent) if parent else {}
                return exact.app(scope, receive, send)
        partial: BaseRoute | None = None
        partial_scope: Scope | None = None
        for route, matcher, direct in index.candidates(route_path):
            match, child_scope = matcher(scope, route_path)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                if direct:
                    return route.app(scope, receive, send)  # type: ignore[attr-defined,no-any-return]
                return route.handle(scope, receive, send)
            if match is Match.PARTIAL and partial is None:
                partial = route
                partial_scope = child_scope
        if partial is not None and partial_scope is not None:
            scope["route"] = partial
            scope.update(partial_scope)
            return partial.handle(scope, receive, send)
        if scope_type == "http" and self.redirect_slashes and route_path != "/":
            location = self._slash_redirect(scope, route_path, index)
            if location is not None:
                return _send_redirect(send, location)
        return self.default(scope, receive, send)

    def _slash_redirect(self, scope: Scope, route_path: str, index: RouteIndex) -> bytes | None:
        """The `Location` for the slash-toggled path if some route matches it, else None."""
        path: str = scope["path"]
        if route_path.endswith("/"):
            new_path, new_route_path = path.rstrip("/"), route_path.rstrip("/")
        else:
            new_path, new_route_path = path + "/", route_path + "/"
        if not new_path.startswith("/") or not new_route_path.startswith("/"):
            return None
        redirect_scope = dict(scope)
        redirect_scope["path"] = new_path
        for _, matcher, _ in index.candidates(new_route_path):
            match, _ = matcher(redirect_scope, new_route_path)
            if match is not Match.NONE:
                break
        else:
            return None
        location = quote(new_path, safe=_REDIRECT_SAFE)
        # A Location starting with `//` would be read as another host.
        location = "/" + location.lstrip("/")
        query = scope.get("query_string", b"")
        if query:
            location += "?" + quote(query.decode("latin-1"), safe=_QUERY_SAFE)
        return location.encode("latin-1")

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        route = Route(
            path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema
        )
        self._routes.append(route)

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        route = WebSocketRoute(path, endpoint, name=name)
        self._routes.append(route)

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        self._routes.append(Mount(path, app=app, name=name))

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        self._routes.append(Host(host, app=app, name=name))

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """Every route of this router, mounts flattened."""
        for route in self._routes:
            describe = getattr(route, "describe", None)
            if describe is not None:
                yield from describe(prefix, host)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Router) and list(self._routes) == list(other._routes)

    __hash__ = object.__hash__


def _hint(routes: Sequence[BaseRoute], name: str) -> str:
    expected = [
        sorted(getattr(route, "param_convertors", {}))
        for route in routes
        if getattr(route, "name", None) == name and not isinstance(route, (Mount, Host))
    ]
    if expected:
        return "Route(s) with that name take params: " + "; ".join(
            ", ".join(params) or "(none)" for params in expected
        )
    return ""
