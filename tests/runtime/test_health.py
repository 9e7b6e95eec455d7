"""health_routes: what a Kubernetes probe sees, on asyncio and trio."""

from __future__ import annotations

import httpx2
import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.health import Check, health_routes


def client_for(app: App) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test")


@pytest.mark.anyio
async def test_liveness_and_readiness_without_checks() -> None:
    async with client_for(App(routes=health_routes())) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert live.headers["cache-control"] == "no-store"


@pytest.mark.anyio
async def test_readiness_names_every_failed_check_and_liveness_stays_up() -> None:
    async def database() -> bool:
        return False

    def cache() -> bool:
        return True

    def queue() -> bool:
        raise ConnectionError("broker down")

    checks: dict[str, Check] = {"database": database, "cache": cache, "queue": queue}
    app = App(routes=health_routes(checks))
    async with client_for(app) as client:
        ready = await client.get("/readyz")
        live = await client.get("/healthz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "failed": ["database", "queue"]}
    assert live.status_code == 200


@pytest.mark.anyio
async def test_checks_passing_again_make_the_app_ready() -> None:
    state = {"up": False}

    def upstream() -> bool:
        return state["up"]

    async with client_for(App(routes=health_routes([upstream]))) as client:
        assert (await client.get("/readyz")).json()["failed"] == ["upstream"]
        state["up"] = True
        assert (await client.get("/readyz")).status_code == 200


@pytest.mark.anyio
async def test_custom_paths() -> None:
    routes = health_routes(liveness_path="/live", readiness_path="/ready")
    async with client_for(App(routes=routes)) as client:
        assert (await client.get("/live")).status_code == 200
        assert (await client.get("/ready")).status_code == 200
        assert (await client.get("/healthz")).status_code == 404


def test_a_non_callable_check_fails_at_construction() -> None:
    with pytest.raises(TypeError, match="'db' must be callable"):
        health_routes({"db": "postgres://"})  # type: ignore[arg-type]
