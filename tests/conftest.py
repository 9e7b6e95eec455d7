"""Run every `@pytest.mark.anyio` test on both asyncio and trio."""

from __future__ import annotations

import pytest


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"use_uvloop": False}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(autouse=True, scope="session")
def _cache_dir_outside_home(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Keep what asgiforge caches (the wheel `new` bundles) out of the user's home during tests.

    Session-wide, so the wheel is built once per run and shared by every test and the processes
    they spawn (they inherit the environment).
    """
    import os

    previous = os.environ.get("ASGIFORGE_CACHE_DIR")
    os.environ["ASGIFORGE_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "wheel-cache")
    yield
    if previous is None:
        os.environ.pop("ASGIFORGE_CACHE_DIR", None)
    else:
        os.environ["ASGIFORGE_CACHE_DIR"] = previous
