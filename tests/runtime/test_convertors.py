from __future__ import annotations

import math
import uuid
from typing import Any

import pytest

from asgiforge.runtime import convertors
from asgiforge.runtime.applications import App
from asgiforge.runtime.convertors import (
    CONVERTOR_TYPES,
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    UUIDConvertor,
    register_url_convertor,
)
from asgiforge.runtime.responses import JSONResponse
from asgiforge.runtime.routing import Route
from asgiforge.runtime.testclient import TestClient


class HexConvertor(Convertor[int]):
    regex = "[0-9a-f]+"

    def convert(self, value: str) -> int:
        return int(value, 16)

    def to_string(self, value: int) -> str:
        return format(value, "x")


class EvenConvertor(Convertor[int]):
    """Accepts digits by regex but rejects odd numbers in convert()."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        number = int(value)
        if number % 2:
            raise ValueError("odd")
        return number

    def to_string(self, value: int) -> str:
        return str(value)


@pytest.fixture(autouse=True)
def _isolated_registry() -> Any:
    """Keep custom registrations from leaking into other tests."""
    before = dict(convertors._registry)
    yield
    convertors._registry.clear()
    convertors._registry.update(before)


async def echo(request: Any) -> JSONResponse:
    return JSONResponse({k: repr(v) for k, v in request.path_params.items()})


def test_builtin_conversions() -> None:
    assert StringConvertor().convert("abc") == "abc"
    assert PathConvertor().convert("a/b") == "a/b"
    assert IntegerConvertor().convert("0042") == 42
    assert FloatConvertor().convert("1.25") == 1.25
    uid = uuid.uuid4()
    assert UUIDConvertor().convert(str(uid)) == uid


def test_builtin_to_string() -> None:
    assert IntegerConvertor().to_string(7) == "7"
    assert FloatConvertor().to_string(1.5) == "1.5"
    assert FloatConvertor().to_string(3.0) == "3"
    uid = uuid.uuid4()
    assert UUIDConvertor().to_string(uid) == str(uid)
    assert PathConvertor().to_string("a/b") == "a/b"


@pytest.mark.parametrize(
    ("convertor", "value", "message"),
    [
        (StringConvertor(), "", "cannot be empty"),
        (StringConvertor(), "a/b", "cannot contain '/'"),
        (IntegerConvertor(), -1, "negative"),
        (FloatConvertor(), -0.5, "negative"),
        (FloatConvertor(), math.nan, "finite"),
        (FloatConvertor(), math.inf, "finite"),
    ],
)
def test_to_string_rejects_unrepresentable_values(
    convertor: Convertor[Any], value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        convertor.to_string(value)


def test_registry_is_read_only() -> None:
    assert set(CONVERTOR_TYPES) >= {"str", "path", "int", "float", "uuid"}
    with pytest.raises(TypeError):
        CONVERTOR_TYPES["x"] = HexConvertor()  # type: ignore[index]


def test_register_custom_convertor_and_use_it() -> None:
    register_url_convertor("hex", HexConvertor())
    app = App(routes=[Route("/colour/{value:hex}", echo, name="colour")])
    client = TestClient(app)
    assert client.get("/colour/ff").json() == {"value": "255"}
    assert client.get("/colour/zz").status_code == 404
    assert app.url_path_for("colour", value=255) == "/colour/ff"


def test_registering_again_with_same_class_is_harmless() -> None:
    register_url_convertor("hex", HexConvertor())
    register_url_convertor("hex", HexConvertor())
    assert isinstance(CONVERTOR_TYPES["hex"], HexConvertor)


def test_rebinding_a_key_is_refused() -> None:
    register_url_convertor("hex", HexConvertor())
    with pytest.raises(ValueError, match="existing convertor HexConvertor"):
        register_url_convertor("hex", EvenConvertor())
    with pytest.raises(ValueError, match="built-in convertor IntegerConvertor"):
        register_url_convertor("int", HexConvertor())


def test_register_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="identifier"):
        register_url_convertor("not valid", HexConvertor())
    with pytest.raises(TypeError, match="Convertor instance"):
        register_url_convertor("hex", HexConvertor)  # type: ignore[arg-type]

    class Broken(Convertor[str]):
        regex = "(unclosed"

    with pytest.raises(ValueError, match="invalid regex"):
        register_url_convertor("broken", Broken())

    class Empty(Convertor[str]):
        pass

    with pytest.raises(ValueError, match="non-empty"):
        register_url_convertor("empty", Empty())


def test_unknown_convertor_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown path convertor 'hex'.*Known convertors: float"):
        Route("/x/{v:hex}", echo)


def test_convert_raising_value_error_means_no_match() -> None:
    register_url_convertor("even", EvenConvertor())
    client = TestClient(App(routes=[Route("/n/{n:even}", echo)]))
    assert client.get("/n/4").json() == {"n": "4"}
    assert client.get("/n/3").status_code == 404
