"""The status-code constants a ported Starlette app imports from `asgiforge.runtime.status`."""

from __future__ import annotations

import http
import re

import pytest

from asgiforge.runtime import status
from asgiforge.runtime.exceptions import StarletteDeprecationWarning

NAME = re.compile(r"^(HTTP|WS)_(\d{3,4})_[A-Z0-9_]+$")


def _constants() -> dict[str, int]:
    return {k: v for k, v in vars(status).items() if k.startswith(("HTTP_", "WS_"))}


def test_every_name_carries_its_own_value() -> None:
    constants = _constants()
    assert len(constants) > 70
    for name, value in constants.items():
        match = NAME.match(name)
        assert match, name
        assert int(match.group(2)) == value, name


def test_every_stdlib_http_status_has_a_constant() -> None:
    values = set(_constants().values())
    missing = [s for s in http.HTTPStatus if s.value not in values]
    assert missing == []


def test_well_known_names() -> None:
    assert status.HTTP_200_OK == 200
    assert status.HTTP_404_NOT_FOUND == 404
    assert status.HTTP_413_CONTENT_TOO_LARGE == 413
    assert status.HTTP_418_IM_A_TEAPOT == 418
    assert status.HTTP_103_EARLY_HINTS == 103
    assert status.HTTP_511_NETWORK_AUTHENTICATION_REQUIRED == 511


@pytest.mark.parametrize(
    ("old", "current", "value"),
    [
        ("HTTP_413_REQUEST_ENTITY_TOO_LARGE", "HTTP_413_CONTENT_TOO_LARGE", 413),
        ("HTTP_414_REQUEST_URI_TOO_LONG", "HTTP_414_URI_TOO_LONG", 414),
        ("HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE", "HTTP_416_RANGE_NOT_SATISFIABLE", 416),
        ("HTTP_422_UNPROCESSABLE_ENTITY", "HTTP_422_UNPROCESSABLE_CONTENT", 422),
    ],
)
def test_old_names_still_port_with_a_warning(old: str, current: str, value: int) -> None:
    with pytest.warns(StarletteDeprecationWarning) as record:
        assert getattr(status, old) == value
    assert len(record) == 1
    assert f"{old!r} is deprecated. Use {current!r} instead." in str(record[0].message)
    assert old in dir(status)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'HTTP_999_UNKNOWN'"):
        getattr(status, "HTTP_999_UNKNOWN")


def test_websocket_close_codes() -> None:
    assert status.WS_1000_NORMAL_CLOSURE == 1000
    assert status.WS_1008_POLICY_VIOLATION == 1008
    assert status.WS_1009_MESSAGE_TOO_BIG == 1009
    assert status.WS_1011_INTERNAL_ERROR == 1011
    assert status.WS_1015_TLS_HANDSHAKE == 1015
    ws_codes = {v for k, v in _constants().items() if k.startswith("WS_")}
    assert ws_codes == set(range(1000, 1016)) - {1004}
