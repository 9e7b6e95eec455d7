"""_utils: which callables are awaited, and the path a router matches against."""

from __future__ import annotations

import functools
from typing import Any
from unittest.mock import create_autospec

import pytest

from asgiforge.runtime._utils import create_collapsing_task_group, get_route_path, is_async_callable
from tests.harness import loaded_by


async def async_endpoint(request: Any) -> str:
    return "async"


def sync_endpoint(request: Any) -> str:
    return "sync"


class AsyncApp:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


class SyncApp:
    def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


class Handlers:
    async def async_method(self) -> None: ...

    def sync_method(self) -> None: ...


@pytest.mark.parametrize(
    "obj",
    [
        async_endpoint,
        functools.partial(async_endpoint, "req"),
        functools.partial(functools.partial(async_endpoint), "req"),
        AsyncApp(),
        functools.partial(AsyncApp(), {}),
        Handlers().async_method,
    ],
    ids=["function", "partial", "nested-partial", "async-call", "partial-async-call", "method"],
)
def test_async_callables_are_recognised(obj: Any) -> None:
    assert is_async_callable(obj) is True


@pytest.mark.parametrize(
    "obj",
    [
        sync_endpoint,
        functools.partial(sync_endpoint, "req"),
        SyncApp(),
        Handlers().sync_method,
        lambda request: request,
        print,
        None,
        "not callable",
    ],
    ids=["function", "partial", "sync-call", "method", "lambda", "builtin", "none", "str"],
)
def test_sync_callables_and_non_callables_are_not(obj: Any) -> None:
    assert is_async_callable(obj) is False


def scope(path: str, root_path: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "http", "path": path}
    if root_path is not None:
        result["root_path"] = root_path
    return result


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/users/1", None, "/users/1"),
        ("/users/1", "", "/users/1"),
        ("/", "", "/"),
        ("/api/users", "/api", "/users"),
        ("/api/", "/api", "/"),
        ("/api/v1/items", "/api/v1", "/items"),
        ("/api", "/api", ""),
        ("/apiary", "/api", "/apiary"),
        ("/apiary/hives", "/api", "/apiary/hives"),
        ("/other", "/api", "/other"),
    ],
    ids=[
        "no-root-path",
        "empty-root-path",
        "bare-slash",
        "prefix-stripped",
        "prefix-with-trailing-slash",
        "deep-prefix",
        "root-path-equals-path",
        "sibling-prefix",
        "sibling-prefix-deeper",
        "unrelated-path",
    ],
)
def test_get_route_path(path: str, root_path: str | None, expected: str) -> None:
    assert get_route_path(scope(path, root_path)) == expected


def test_autospec_mock_of_an_async_function_is_async() -> None:
    assert is_async_callable(create_autospec(async_endpoint))
    assert not is_async_callable(create_autospec(sync_endpoint))


class Boom(Exception):
    pass


@pytest.mark.anyio
async def test_collapsing_task_group_raises_a_lone_error_as_itself() -> None:
    cause = KeyError("cause")
    with pytest.raises(Boom) as info:
        async with create_collapsing_task_group():
            raise Boom from cause
    assert info.value.__cause__ is cause


@pytest.mark.anyio
async def test_collapsing_task_group_keeps_several_errors_grouped() -> None:
    async def fail() -> None:
        raise Boom

    with pytest.raises(ExceptionGroup) as info:
        async with create_collapsing_task_group() as group:
            group.start_soon(fail)
            raise Boom
    assert [type(e) for e in info.value.exceptions] == [Boom, Boom]


def test_importing_the_runtime_loads_neither_asyncio_nor_the_email_package() -> None:
    """What `asgiforge routes` (and a trio app) imports: the modules a full-template app uses.

    asyncio, `http.client` and `email.utils` together took about 70 ms of the command's start-up;
    they load with the first request that needs them (under a server, asyncio is there already).
    """
    imports = (
        "import asgiforge.runtime.applications, asgiforge.runtime.responses\n"
        "import asgiforge.runtime.broadcast, asgiforge.runtime.staticfiles\n"
        "import asgiforge.runtime.templating, asgiforge.runtime.exceptions\n"
        "import asgiforge.runtime.endpoints, asgiforge.runtime.websockets"
    )
    assert loaded_by(imports, ("asyncio", "email.utils", "http.client")) == []


def test_a_function_carrying_asyncios_coroutine_marker_is_async() -> None:
    """Before Python 3.13, asyncio's marker (what older mocks and decorators set) counts,
    although the check no longer imports asyncio to read it."""
    import asyncio.coroutines

    def marked(request: Any) -> None: ...

    marker = getattr(asyncio.coroutines, "_is_coroutine", None)
    if marker is None:
        pytest.skip("this Python's asyncio has no coroutine marker")
    marked._is_coroutine = marker  # type: ignore[attr-defined]
    assert is_async_callable(marked)
    assert is_async_callable(functools.partial(marked))
