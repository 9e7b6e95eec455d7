"""OpenTelemetryMiddleware: one SERVER span and the standard HTTP server metrics per request.

Starlette's constructor (``app, *, excluded_urls=(), tracer_provider=None, meter_provider=None``);
what ``opentelemetry-instrumentation-asgi`` does, built in. Spans follow the stable HTTP semantic
conventions and are named ``"{method} {route template}"`` (for example ``GET /users/{user_id}``),
never the concrete path: concrete paths would give every user id its own span name and explode
cardinality. The template is the route the router recorded in ``scope["route"]`` when it matched
(so a middleware that rewrites the path before routing is honoured and nothing is matched twice),
with the ``root_path`` of enclosing Mounts in front. A router that records no route is asked
which of its routes match, as a fallback. Metrics: ``http.server.request.duration`` (histogram,
seconds) and ``http.server.active_requests`` (up-down counter).

One request gets one span however many of these middlewares it crosses (an App's and a mounted
App's, say): the outermost one marks the scope, and a request it excluded stays untraced inside.
The tracer is taken from the provider at the first traced request, so a provider configured
after the middleware stack was built is used.

Needs the ``otel`` extra (``opentelemetry-api``; the SDK to export anything). The import happens
when the middleware is built, so importing this module never fails.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from asgiforge.runtime.middleware.trustedhost import parse_host
from asgiforge.runtime.routing import Mount
from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["OpenTelemetryMiddleware"]

_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"}
)
_MAX_ROUTE_DEPTH = 16
# Starlette's scope key: set while a request is inside an OpenTelemetryMiddleware.
_ACTIVE_KEY = "starlette.opentelemetry"
# Explicit bucket boundaries the HTTP semantic conventions recommend for request duration.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


def _import_otel() -> tuple[Any, Any, Any, Any]:
    try:
        from opentelemetry import metrics, propagate, trace
        from opentelemetry.trace import SpanKind
    except ImportError as exc:
        raise ImportError(
            "OpenTelemetryMiddleware needs OpenTelemetry: pip install 'asgiforge[otel]'"
        ) from exc
    return trace, metrics, propagate, SpanKind


class _HeaderGetter:
    """Reads propagation headers (``traceparent``…) straight from the ASGI header list."""

    def get(self, carrier: Scope, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        values = [v.decode("latin-1") for k, v in carrier["headers"] if k == name]
        return values or None

    def keys(self, carrier: Scope) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier["headers"]]


def _route_template(routes: Iterable[Any], scope: Scope, prefix: str, depth: int) -> str | None:
    """The path template of the route matching `scope`, Mount prefixes joined in."""
    partial: str | None = None
    for route in routes:
        matches = getattr(route, "matches", None)
        if matches is None:
            continue
        try:
            match, child_scope = matches(scope)
        except Exception:  # noqa: S112 - a custom route that cannot judge this scope
            continue
        kind = getattr(match, "name", "")
        path = prefix + getattr(route, "path", "")
        if kind == "FULL":
            children = getattr(route, "routes", None)
            if isinstance(route, Mount):
                # As `_recorded_route`: a Mount contributes the root_path it matched.
                path = child_scope.get("root_path", path)
            if children and depth < _MAX_ROUTE_DEPTH:
                found = _route_template(children, {**scope, **child_scope}, path, depth + 1)
                if found is not None:
                    return found
            if not children and not isinstance(route, Mount):
                # A leaf: its template without convertors, as `_recorded_route`.
                path_format = getattr(route, "path_format", None)
                if isinstance(path_format, str):
                    path = prefix.rstrip("/") + path_format
            return path or None
        if kind == "PARTIAL" and partial is None:
            partial = path
    return partial


def _compile_excluded(excluded_urls: str | Sequence[str] | None) -> tuple[re.Pattern[str], ...]:
    if excluded_urls is None:
        return ()
    patterns = excluded_urls.split(",") if isinstance(excluded_urls, str) else list(excluded_urls)
    return tuple(re.compile(p.strip()) for p in patterns if p.strip())


def _recorded_route(scope: Scope) -> str | None:
    """The template of the route the router recorded in ``scope["route"]``, if any."""
    route = scope.get("route")
    if route is None:
        return None
    root_path: str = scope.get("root_path", "")
    if isinstance(route, Mount):
        # The mounted app matched nothing further (or has no routes of its own).
        return root_path or "/"
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        return None
    return root_path.rstrip("/") + path_format or "/"


class OpenTelemetryMiddleware:
    """Trace and measure HTTP requests.

    `tracer_provider` / `meter_provider` default to the global ones. `excluded_urls` is a list
    of regular expressions (or one comma-separated string, like ``OTEL_PYTHON_EXCLUDED_URLS``)
    searched in the full request URL (``http://host/health?full=1``), as in Starlette; matching
    requests (health checks…) are neither traced nor measured. WebSocket and lifespan scopes
    pass straight through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        excluded_urls: str | Sequence[str] | None = (),
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        trace, metrics, propagate, span_kind = _import_otel()
        self.app = app
        self._trace = trace
        self._extract = propagate.extract
        self._server_kind = span_kind.SERVER
        self._getter = _HeaderGetter()
        self._tracer_provider = tracer_provider or trace.get_tracer_provider()
        self._tracer: Any = None
        meter = metrics.get_meter(__name__, meter_provider=meter_provider)
        try:
            self._duration = meter.create_histogram(
                "http.server.request.duration",
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
            )
        except TypeError:  # pragma: no cover - opentelemetry-api older than 1.23
            self._duration = meter.create_histogram(
                "http.server.request.duration", unit="s", description="Duration of HTTP requests."
            )
        self._active = meter.create_up_down_counter(
            "http.server.active_requests",
            unit="{request}",
            description="Number of active HTTP server requests.",
        )
        self._excluded = _compile_excluded(excluded_urls)

    def _is_excluded(self, scope: Scope) -> bool:
        from asgiforge.runtime.datastructures import URL

        url = str(URL(scope=scope))
        return any(pattern.search(url) for pattern in self._excluded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(_ACTIVE_KEY):
            await self.app(scope, receive, send)
            return
        scope[_ACTIVE_KEY] = True
        try:
            if self._excluded and self._is_excluded(scope):
                await self.app(scope, receive, send)
            else:
                await self._traced(scope, receive, send)
        finally:
            scope.pop(_ACTIVE_KEY, None)

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        original = dict(scope)  # for the fallback matching: routing rewrites the live scope
        original_method: str = scope.get("method", "")
        upper = original_method.upper()
        # Unknown methods share one name, as the semantic conventions say: a client must not
        # be able to mint span names (or metric series) at will.
        known_method = upper if upper in _KNOWN_METHODS else "_OTHER"
        scheme = scope.get("scheme", "http")
        attributes: dict[str, Any] = {
            "http.request.method": known_method,
            "url.scheme": scheme,
            "url.path": scope.get("path", ""),
        }
        if scope.get("http_version"):
            attributes["network.protocol.version"] = scope["http_version"]
        if original_method != known_method:
            attributes["http.request.method_original"] = original_method
        query: bytes = scope.get("query_string", b"")
        if query:
            attributes["url.query"] = query.decode("latin-1")
        server = scope.get("server")
        host = None
        for key, value in scope["headers"]:
            if key == b"host":
                host = parse_host(value.decode("latin-1"))
                break
        if host is not None:
            attributes["server.address"] = host[0]
            port = host[1] if host[1] is not None else (server[1] if server else None)
            if port is not None:
                attributes["server.port"] = port
        elif server:
            attributes["server.address"] = server[0]
            if server[1] is not None:
                attributes["server.port"] = server[1]
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
            attributes["client.port"] = client[1]
        for key, value in scope["headers"]:
            if key == b"user-agent":
                attributes["user_agent.original"] = value.decode("latin-1")
                break
        active_attributes = {"http.request.method": known_method, "url.scheme": scheme}
        self._active.add(1, active_attributes)

        status_code: int | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        context = self._extract(scope, getter=self._getter)
        error: BaseException | None = None
        tracer = self._tracer
        if tracer is None:
            tracer = self._tracer = self._tracer_provider.get_tracer(__name__)
        with tracer.start_as_current_span(
            known_method,
            context=context,
            kind=self._server_kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                await self.app(scope, receive, send_wrapper)
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._finish(span, scope, original, known_method, status_code, error, started)
                self._active.add(-1, active_attributes)

    def _finish(
        self,
        span: Any,
        scope: Scope,
        original: Scope,
        method: str,
        status_code: int | None,
        error: BaseException | None,
        started: float,
    ) -> None:
        metric_attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.scheme": original.get("scheme", "http"),
            "network.protocol.version": original.get("http_version", "1.1"),
        }
        if "route" in scope:
            route = _recorded_route(scope)
        else:  # a router that does not record its match: ask its routes
            routes = getattr(scope.get("router"), "routes", None)
            route = _route_template(routes, original, "", 0) if routes else None
        if route is not None:
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            metric_attributes["http.route"] = route
        if status_code is not None:
            span.set_attribute("http.response.status_code", status_code)
            metric_attributes["http.response.status_code"] = status_code
        error_type: str | None = None
        if error is not None:
            error_type = type(error).__qualname__
            span.record_exception(error)
        elif status_code is not None and status_code >= 500:
            error_type = str(status_code)
        if error_type is not None:
            span.set_attribute("error.type", error_type)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
            metric_attributes["error.type"] = error_type
        self._duration.record(time.perf_counter() - started, metric_attributes)
