from __future__ import annotations

import warnings

import pytest

from asgiforge.runtime.exceptions import (
    HTTPException,
    StarletteDeprecationWarning,
    WebSocketException,
)


def test_http_exception_detail_defaults_to_phrase() -> None:
    exc = HTTPException(404)
    assert exc.status_code == 404
    assert exc.detail == "Not Found"
    assert exc.headers is None
    assert str(exc) == "404: Not Found"
    assert repr(exc) == "HTTPException(status_code=404, detail='Not Found')"


def test_http_exception_custom_detail_and_headers() -> None:
    exc = HTTPException(401, detail="login first", headers={"WWW-Authenticate": "Bearer"})
    assert exc.detail == "login first"
    assert exc.headers == {"WWW-Authenticate": "Bearer"}


def test_http_exception_non_standard_code_has_empty_detail() -> None:
    # Starlette's rule: no invented reason phrase for a code HTTP does not define (nginx's 499).
    assert HTTPException(499).detail == ""


def test_http_exception_is_raisable() -> None:
    with pytest.raises(HTTPException) as info:
        raise HTTPException(418)
    assert info.value.detail == "I'm a Teapot"


def test_websocket_exception() -> None:
    exc = WebSocketException(1008, reason="policy")
    assert (exc.code, exc.reason) == (1008, "policy")
    assert str(exc) == "1008: policy"
    assert WebSocketException(1000).reason == ""
    assert repr(WebSocketException(1011)) == "WebSocketException(code=1011, reason='')"


def test_starlette_deprecation_warning_can_be_filtered_as_in_starlette() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", category=StarletteDeprecationWarning)
        warnings.warn("old api", StarletteDeprecationWarning, stacklevel=1)
        warnings.warn("other", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["other"]
    assert issubclass(StarletteDeprecationWarning, UserWarning)
