"""OpenTelemetryMiddleware: spans named by route template, HTTP attributes and metrics."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.opentelemetry import OpenTelemetryMiddleware
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import PlainTextResponse, Response
from asgiforge.runtime.routing import Mount, Route
from asgiforge.runtime.testclient import TestClient
from tests.runtime.middleware._asgi import Recorder, call, http_scope


async def user(request: Request) -> Response:
    return PlainTextResponse(f"user {request.path_params['user_id']}")


async def boom(request: Request) -> Response:
    raise RuntimeError("kaboom")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


class Telemetry:
    def __init__(self, **options: Any) -> None:
        self.exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[self.reader])
        self.app = App(
            routes=[
                Route("/users/{user_id:int}", user),
                Route("/boom", boom),
                Route("/healthz", health),
                Mount("/api/{version}", routes=[Route("/items/{item_id}", health)]),
            ],
            middleware=[
                Middleware(
                    OpenTelemetryMiddleware,
                    tracer_provider=tracer_provider,
                    meter_provider=meter_provider,
                    **options,
                )
            ],
        )
        self.client = TestClient(self.app, raise_server_exceptions=False)

    def metrics(self) -> dict[str, Any]:
        data = self.reader.get_metrics_data()
        found: dict[str, Any] = {}
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope_metrics in resource.scope_metrics:
                for metric in scope_metrics.metrics:
                    found[metric.name] = metric
        return found


def test_span_named_by_route_template_with_http_attributes() -> None:
    telemetry = Telemetry()
    response = telemetry.client.get("/users/42?x=1", headers={"user-agent": "probe/1"})
    assert response.text == "user 42"
    (span,) = telemetry.exporter.get_finished_spans()
    assert span.name == "GET /users/{user_id}"
    assert span.kind is SpanKind.SERVER
    attributes = dict(span.attributes or {})
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.route"] == "/users/{user_id}"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == "/users/42"
    assert attributes["url.query"] == "x=1"
    assert attributes["url.scheme"] == "http"
    assert attributes["user_agent.original"] == "probe/1"
    assert "server.address" in attributes
    assert span.status.status_code is StatusCode.UNSET


def test_mounted_route_is_named_after_the_mount_path() -> None:
    telemetry = Telemetry()
    telemetry.client.get("/api/v2/items/7")
    (span,) = telemetry.exporter.get_finished_spans()
    # As Starlette: the Mount contributes the path it matched (its root_path).
    assert span.name == "GET /api/v2/items/{item_id}"


def test_unmatched_request_is_named_by_method_only() -> None:
    telemetry = Telemetry()
    assert telemetry.client.get("/nowhere").status_code == 404
    (span,) = telemetry.exporter.get_finished_spans()
    assert span.name == "GET"
    assert "http.route" not in (span.attributes or {})
    assert span.attributes["http.response.status_code"] == 404  # type: ignore[index]


def test_exception_marks_span_as_error() -> None:
    telemetry = Telemetry()
    assert telemetry.client.get("/boom").status_code == 500
    (span,) = telemetry.exporter.get_finished_spans()
    assert span.name == "GET /boom"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RuntimeError"  # type: ignore[index]
    assert any(event.name == "exception" for event in span.events)


def test_incoming_trace_context_is_continued() -> None:
    telemetry = Telemetry()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    telemetry.client.get("/healthz", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    (span,) = telemetry.exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == "00f067aa0ba902b7"


def test_metrics_duration_and_active_requests() -> None:
    telemetry = Telemetry()
    telemetry.client.get("/users/1")
    telemetry.client.get("/users/2")
    metrics = telemetry.metrics()
    duration = metrics["http.server.request.duration"]
    assert duration.unit == "s"
    (point,) = duration.data.data_points
    assert point.count == 2
    assert point.attributes["http.route"] == "/users/{user_id}"
    assert point.attributes["http.response.status_code"] == 200
    active = metrics["http.server.active_requests"]
    assert sum(p.value for p in active.data.data_points) == 0


@pytest.mark.parametrize(
    "excluded", ["healthz,metrics", [r"/healthz$"], [r"^http://testserver/healthz$"]]
)
def test_excluded_urls_are_not_traced(excluded: Any) -> None:
    telemetry = Telemetry(excluded_urls=excluded)
    assert telemetry.client.get("/healthz").text == "ok"
    assert telemetry.exporter.get_finished_spans() == ()
    telemetry.client.get("/users/3")
    assert len(telemetry.exporter.get_finished_spans()) == 1


@pytest.mark.anyio
async def test_non_http_scopes_pass_through() -> None:
    inner = Recorder()
    await call(OpenTelemetryMiddleware(inner), http_scope(kind="websocket"))
    await call(OpenTelemetryMiddleware(inner), {"type": "lifespan"})
    assert [s["type"] for s in inner.scopes] == ["websocket", "lifespan"]


def test_missing_opentelemetry_is_a_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("opentelemetry"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"asgiforge\[otel\]"):
        OpenTelemetryMiddleware(Recorder())


def test_options_are_keyword_only_as_in_starlette() -> None:
    with pytest.raises(TypeError):
        OpenTelemetryMiddleware(Recorder(), None)  # type: ignore[misc]
    OpenTelemetryMiddleware(Recorder(), excluded_urls=())  # Starlette's default: nothing excluded


def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_nested_middlewares_make_one_span_and_an_exclusion_holds_inside() -> None:
    provider, exporter = _provider()
    inner = App(
        routes=[Route("/health", health), Route("/x", health)],
        middleware=[Middleware(OpenTelemetryMiddleware, tracer_provider=provider)],
    )
    outer = App(
        routes=[Mount("/api", app=inner)],
        middleware=[
            Middleware(
                OpenTelemetryMiddleware, tracer_provider=provider, excluded_urls=["/health$"]
            ),
            Middleware(OpenTelemetryMiddleware, tracer_provider=provider),
        ],
    )
    client = TestClient(outer)
    assert client.get("/api/health").text == "ok"
    assert exporter.get_finished_spans() == ()
    assert client.get("/api/x").text == "ok"
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /api/x"


@pytest.mark.anyio
async def test_the_route_the_router_recorded_names_the_span_without_matching_again() -> None:
    provider, exporter = _provider()
    route = Route("/users/{user_id:int}", user)

    async def router(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = route  # what the Router records when it matches
        scope["root_path"] = "/v1"
        await PlainTextResponse("ok")(scope, receive, send)

    app = OpenTelemetryMiddleware(router, tracer_provider=provider)
    await call(app, http_scope("/v1/users/3", method="get"))
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /v1/users/{user_id}"
    assert span.attributes is not None
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["http.request.method_original"] == "get"


@pytest.mark.anyio
async def test_unknown_methods_share_one_span_name() -> None:
    provider, exporter = _provider()
    app = OpenTelemetryMiddleware(PlainTextResponse("ok"), tracer_provider=provider)
    await call(app, http_scope(method="BREW"))
    (span,) = exporter.get_finished_spans()
    assert span.name == "_OTHER"
    assert span.attributes is not None
    assert span.attributes["http.request.method_original"] == "BREW"


def test_a_mounted_raw_asgi_app_is_named_after_the_mount() -> None:
    provider, exporter = _provider()
    app = App(
        routes=[Mount("/raw", app=PlainTextResponse("mounted"))],
        middleware=[Middleware(OpenTelemetryMiddleware, tracer_provider=provider)],
    )
    assert TestClient(app).get("/raw/anything").text == "mounted"
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /raw"
