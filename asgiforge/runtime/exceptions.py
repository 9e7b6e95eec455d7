"""The exceptions user code raises to turn into an HTTP response or a WebSocket close.

`ExceptionMiddleware` (and the per-route handling in `routing.request_response`) catches them, so
an endpoint can `raise HTTPException(404)` from any depth instead of threading responses back up.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

__all__ = ["HTTPException", "StarletteDeprecationWarning", "WebSocketException"]

# What `http.client.responses` holds, built from the enum: `http.client` pulls in the `email`
# package (about 15 ms at start-up) for this one table.
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def _phrase(status_code: int) -> str:
    """The standard reason phrase; empty for a non-standard code (e.g. nginx's 499), as in
    Starlette, so the error response carries no invented text."""
    return _PHRASES.get(status_code, "")


class HTTPException(Exception):
    """Abort the request with `status_code`; `detail` defaults to the status phrase.

    `headers` are sent with the error response (e.g. `WWW-Authenticate` for a 401, `Allow` for a
    405), which is why they travel on the exception rather than being added by a handler.
    """

    def __init__(
        self,
        status_code: int,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if detail is None:
            detail = _phrase(status_code)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers
        super().__init__(status_code, detail)

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


class WebSocketException(Exception):
    """Close the WebSocket with `code` (and an optional `reason`), from any depth of a handler."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class StarletteDeprecationWarning(UserWarning):
    """The category of deprecation notices, under Starlette's name so that a ported app's
    `warnings.filterwarnings(..., category=StarletteDeprecationWarning)` keeps working.

    A `UserWarning` (not `DeprecationWarning`) so it is shown by default.
    """
