"""SessionMiddleware: a dict in ``scope["session"]``, kept client-side in a signed cookie.

The cookie is ``base64url(json) "." timestamp "." base64url(HMAC-SHA256)``, signed with the
standard library, so sessions need no extra dependency. The timestamp is inside the signature
and `max_age` is enforced on the server, because a browser's Max-Age is only advice: a stolen
cookie replayed after it expired is still refused. Any cookie that fails to verify (tampered,
expired, signed with another key, not base64, not JSON, absurdly large) is treated as "no
session": the request proceeds with an empty dict, never a 500, and oversized values are
rejected before any hashing so they cost almost nothing.

``signer="itsdangerous"`` (the ``sessions`` extra) reads and writes Starlette's cookie format
instead, so a Starlette app can switch to asgiforge without logging every user out.

As in Starlette 1.x, ``scope["session"]`` is a :class:`Session` that records whether it was
read (``request.session`` marks it accessed) or changed: ``Set-Cookie`` is sent only when it was
changed (or cleared, which expires the cookie), and ``Vary: Cookie`` whenever it was accessed,
so a shared cache never serves one user's session-dependent page to another. Changing a value
in place (``session["cart"].append(x)``) is not seen: call ``mark_modified()`` after it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Literal

from asgiforge.runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Session", "SessionMiddleware"]

# Browsers cap a cookie at about 4 KiB; anything much larger is not one we issued.
_MAX_COOKIE_CHARS = 8192
_EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64decode(data: bytes) -> bytes:
    if not _B64_ALPHABET.issuperset(data):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


class _HMACSigner:
    """Stdlib signer: HMAC-SHA256 over ``payload.timestamp`` with a key derived for sessions."""

    def __init__(self, secret_key: str) -> None:
        # Derive a purpose-specific key so the app's secret is never used raw for another job.
        self._key = hmac.new(
            secret_key.encode("utf-8"), b"asgiforge.sessions.v1", hashlib.sha256
        ).digest()

    def sign(self, payload: bytes) -> bytes:
        signed = payload + b"." + str(int(time.time())).encode()
        mac = hmac.new(self._key, signed, hashlib.sha256).digest()
        return signed + b"." + _b64encode(mac)

    def unsign(self, value: bytes, max_age: int | None) -> bytes | None:
        parts = value.split(b".")
        if len(parts) != 3:
            return None
        payload, stamp, mac = parts
        if not stamp.isdigit() or len(stamp) > 12:
            return None
        try:
            given = _b64decode(mac)
        except (ValueError, binascii.Error):
            return None
        expected = hmac.new(self._key, payload + b"." + stamp, hashlib.sha256).digest()
        if not hmac.compare_digest(given, expected):
            return None
        if max_age is not None and time.time() - int(stamp) > max_age:
            return None
        return payload


class _ItsDangerousSigner:
    """Starlette-compatible cookies through itsdangerous's TimestampSigner."""

    def __init__(self, secret_key: str) -> None:
        try:
            import itsdangerous
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SessionMiddleware(signer='itsdangerous') needs itsdangerous: "
                "pip install 'asgiforge[sessions]'"
            ) from exc
        self._signer = itsdangerous.TimestampSigner(secret_key)
        self._bad = itsdangerous.BadSignature

    def sign(self, payload: bytes) -> bytes:
        result: bytes = self._signer.sign(payload)
        return result

    def unsign(self, value: bytes, max_age: int | None) -> bytes | None:
        try:
            result: bytes = self._signer.unsign(value, max_age=max_age)
            return result
        except self._bad:
            return None


class Session(dict[str, Any]):
    """The session dict, tracking reads (`accessed`) and changes (`modified`)."""

    accessed: bool = False
    modified: bool = False

    def mark_accessed(self) -> None:
        self.accessed = True

    def mark_modified(self) -> None:
        self.accessed = True
        self.modified = True

    def __setitem__(self, key: str, value: Any) -> None:
        self.mark_modified()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.mark_modified()
        super().__delitem__(key)

    def clear(self) -> None:
        self.mark_modified()
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.mark_modified()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.mark_modified()
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.mark_modified()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.mark_modified()
        super().update(*args, **kwargs)

    def __ior__(self, other: Any, /) -> Session:  # type: ignore[override,misc]
        self.mark_modified()
        return super().__ior__(other)


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    """Add ``Cookie`` to the response's ``Vary`` header (merging with one already there)."""
    for index, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            tokens = [token.strip().lower() for token in value.split(b",")]
            if b"cookie" not in tokens and b"*" not in tokens:
                headers[index] = (key, value + b", Cookie")
            return
    headers.append((b"vary", b"Cookie"))


def _find_cookie(scope: Scope, name: bytes) -> bytes | None:
    """The value of cookie `name` in the request, without parsing every other cookie."""
    for key, value in scope["headers"]:
        if key != b"cookie" or name not in value:
            continue
        for item in value.split(b";"):
            cookie_name, sep, cookie_value = item.partition(b"=")
            if sep and cookie_name.strip() == name:
                return cookie_value.strip().strip(b'"')  # type: ignore[no-any-return]
    return None


class SessionMiddleware:
    """Starlette's SessionMiddleware constructor, plus `signer` ("hmac" or "itsdangerous")."""

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str | Any,
        session_cookie: str = "session",
        max_age: int | None = 14 * 24 * 60 * 60,
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
        partitioned: bool = False,
        signer: Literal["hmac", "itsdangerous"] = "hmac",
    ) -> None:
        secret = str(secret_key)  # accepts config.Secret, as Starlette does
        if not secret:
            raise ValueError("SessionMiddleware needs a non-empty secret_key")
        if same_site.lower() not in ("lax", "strict", "none"):
            raise ValueError(f"same_site must be 'lax', 'strict' or 'none', got {same_site!r}")
        if max_age is not None and not isinstance(max_age, int):
            raise TypeError(f"max_age must be a number of seconds or None, got {max_age!r}")
        checked = [("session_cookie", session_cookie), ("path", path)]
        if domain is not None:
            checked.append(("domain", domain))
        for label, text in checked:
            if any(c in text for c in ";,\r\n \t") or not text:
                raise ValueError(f"{label} contains characters not allowed in a cookie: {text!r}")
        if signer == "hmac":
            self.signer: _HMACSigner | _ItsDangerousSigner = _HMACSigner(secret)
        elif signer == "itsdangerous":
            self.signer = _ItsDangerousSigner(secret)
        else:
            raise ValueError(f"signer must be 'hmac' or 'itsdangerous', got {signer!r}")
        self.app = app
        self.session_cookie = session_cookie
        self.max_age = max_age
        self.path = path
        self._name = session_cookie.encode("latin-1")
        # Starlette's attribute spelling, so code that inspects Set-Cookie keeps working. A
        # max_age of 0 or less makes the browser drop the cookie at once, and the server refuses
        # it too (its timestamp is always older than that).
        security = f"httponly; samesite={same_site.lower()}"
        if https_only:
            security += "; secure"
        if domain is not None:
            security += f"; domain={domain}"
        if partitioned:  # CHIPS: a cookie keyed to the top-level site (embedded apps)
            security += "; partitioned"
        max_age_attr = f"Max-Age={max_age}; " if max_age is not None else ""
        self._set_suffix = f"; path={path}; {max_age_attr}{security}".encode("latin-1")
        clear = f"{session_cookie}=null; path={path}; expires={_EXPIRED}; Max-Age=0; {security}"
        self._clear_cookie = clear.encode("latin-1")

    def load(self, raw: bytes | None) -> dict[str, Any]:
        """Decode a cookie value into a session dict; anything invalid gives an empty session."""
        if not raw or len(raw) > _MAX_COOKIE_CHARS:
            return {}
        payload = self.signer.unsign(raw, self.max_age)
        if payload is None:
            return {}
        try:
            data = json.loads(base64.b64decode(payload, validate=True))
        except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    def dump(self, session: dict[str, Any]) -> bytes:
        """Encode and sign a session for the Set-Cookie header."""
        payload = base64.b64encode(json.dumps(session, separators=(",", ":")).encode("utf-8"))
        return self.signer.sign(payload)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        session = Session(self.load(_find_cookie(scope, self._name)))
        scope["session"] = session
        was_empty = not session

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                current = scope.get("session")
                if current is session:
                    accessed, modified = session.accessed, session.modified
                else:  # the app put another object in the scope: treat it as a change
                    accessed = modified = True
                if accessed:
                    headers = list(message.get("headers", ()))
                    _add_vary_cookie(headers)
                    if modified and current:
                        cookie = self._name + b"=" + self.dump(current) + self._set_suffix
                        headers.append((b"set-cookie", cookie))
                    elif modified and not was_empty:
                        headers.append((b"set-cookie", self._clear_cookie))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_session)
