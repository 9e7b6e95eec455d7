"""routeinfo: the name, file and line `asgiforge routes` shows for an endpoint."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import inspect
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from asgiforge.runtime.routeinfo import RouteInfo, describe_callable

HERE = str(Path(__file__).resolve())


def line_of(obj: Any) -> int:
    return inspect.getsourcelines(obj)[1]


async def list_users(request: Any) -> None: ...


class UserEndpoint:
    async def get(self, request: Any) -> None: ...


class AsgiApp:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


def decorated(fn: Any) -> Any:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await fn(*args, **kwargs)

    return wrapper


@decorated
async def show_user(request: Any, verbose: bool = False) -> None: ...


def qualified(name: str) -> str:
    return f"{__name__}.{name}"


def test_function() -> None:
    assert describe_callable(list_users) == (qualified("list_users"), HERE, line_of(list_users))


def test_class() -> None:
    expected = (qualified("UserEndpoint"), HERE, line_of(UserEndpoint))
    assert describe_callable(UserEndpoint) == expected


def test_callable_instance_is_described_by_its_class() -> None:
    assert describe_callable(AsgiApp()) == (qualified("AsgiApp"), HERE, line_of(AsgiApp))


def test_bound_method() -> None:
    method = UserEndpoint().get
    assert describe_callable(method) == (qualified("UserEndpoint.get"), HERE, line_of(method))


def test_nested_function_keeps_its_qualname() -> None:
    def inner(request: Any) -> None: ...

    name, file, line = describe_callable(inner)
    assert name == qualified("test_nested_function_keeps_its_qualname.<locals>.inner")
    assert (file, line) == (HERE, line_of(inner))


def test_decorated_function_points_at_the_original_definition() -> None:
    # The line of `async def show_user`, not of the wrapper inside `decorated`.
    original = show_user.__wrapped__
    assert describe_callable(show_user) == (qualified("show_user"), HERE, line_of(original))


def test_partial_points_at_the_wrapped_function() -> None:
    partial = functools.partial(list_users, request=None)
    assert describe_callable(partial) == (qualified("list_users"), HERE, line_of(list_users))
    nested = functools.partial(functools.partial(list_users), request=None)
    assert describe_callable(nested) == (qualified("list_users"), HERE, line_of(list_users))


@pytest.fixture
def decorators_elsewhere(tmp_path: Path) -> ModuleType:
    """A decorator defined in another file, as in a real project's `auth.py`."""
    path = tmp_path / "elsewhere_decorators.py"
    path.write_text(
        textwrap.dedent(
            """
            import functools

            def decorated(fn):
                @functools.wraps(fn)
                async def wrapper(*args, **kwargs):
                    return await fn(*args, **kwargs)

                return wrapper
            """
        )
    )
    spec = importlib.util.spec_from_file_location("elsewhere_decorators", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_decorator_from_another_file_still_points_at_the_endpoint(
    decorators_elsewhere: ModuleType,
) -> None:
    endpoint = decorators_elsewhere.decorated(list_users)
    assert describe_callable(endpoint) == (qualified("list_users"), HERE, line_of(list_users))


def test_partial_of_a_decorated_function_points_at_the_endpoint(
    decorators_elsewhere: ModuleType,
) -> None:
    endpoint = functools.partial(decorators_elsewhere.decorated(list_users), request=None)
    assert describe_callable(endpoint) == (qualified("list_users"), HERE, line_of(list_users))


def test_builtin_has_no_source() -> None:
    _name, file, line = describe_callable(len)
    assert (file, line) == (None, None)


def test_builtin_is_named_by_its_own_name() -> None:
    assert describe_callable(len)[0] == "builtins.len"


def test_routeinfo_is_frozen_and_compares_without_extra() -> None:
    info = RouteInfo(kind="http", path="/users", name="users", methods=("GET", "HEAD"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.path = "/other"  # type: ignore[misc]
    assert info == RouteInfo(
        kind="http", path="/users", name="users", methods=("GET", "HEAD"), extra={"raw": "/u"}
    )
    assert info != RouteInfo(kind="http", path="/users", name="users", methods=("GET",))
    assert (info.endpoint, info.file, info.line, info.host, info.extra) == (
        None,
        None,
        None,
        None,
        {},
    )


def test_lines_are_the_ones_inspect_reports_for_every_function_and_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line comes from the code object or the `class` statement, not from inspect (which
    tokenizes or parses the whole source); it must still be the line inspect reports."""
    source = tmp_path / "lines_probe.py"
    source.write_text(
        "import dataclasses, functools\n"
        "\n"
        "@dataclasses.dataclass(\n"
        "    frozen=True,\n"
        ")\n"
        "# a comment between decorator and class\n"
        "class Decorated:\n"
        "    x: int = 1\n"
        "\n"
        "class LinesProbePlain:\n"
        "    class Inner:\n"
        "        pass\n"
        "\n"
        "@functools.lru_cache\n"
        "def cached(): ...\n"
        "\n"
        "async def endpoint(request): ...\n"
        "Alias = LinesProbePlain\n"
    )
    spec = importlib.util.spec_from_file_location("lines_probe", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "lines_probe", module)
    spec.loader.exec_module(module)
    targets = [
        module.cached,
        module.Decorated,
        module.LinesProbePlain,
        module.LinesProbePlain.Inner,
        module.endpoint,
        module.Alias,
    ]
    for target in targets:
        assert describe_callable(target)[2] == inspect.getsourcelines(target)[1], target
    assert describe_callable(module.Decorated)[2] == 3
