"""The value types requests, responses and routing hand to user code: URL, Headers, QueryParams...

Starlette's public API and behaviour. Two rules shape the implementation because these objects
are built on every request:

- nothing is parsed before someone asks: `URL` splits its string on first component access,
  `Headers` wraps the server's raw header list as is and decodes only the values it returns;
- lookups never raise and catch internally on the common path (`Headers.get` scans the raw list).

Hostile input never crashes a constructor: bad percent-escapes and invalid UTF-8 in a query string
decode with replacement characters, exactly what the standard library's parser produces.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import shlex
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, Sequence, ValuesView
from operator import itemgetter
from typing import Any, BinaryIO, NamedTuple, TypeVar, cast
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

import anyio.to_thread

from asgiforge.runtime.types import Scope

__all__ = [
    "URL",
    "Address",
    "CommaSeparatedStrings",
    "FormData",
    "Headers",
    "ImmutableMultiDict",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "Secret",
    "State",
    "URLPath",
    "UploadFile",
]

_KeyType = TypeVar("_KeyType")
_CovariantValueType = TypeVar("_CovariantValueType", covariant=True)

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_SECURE_SCHEMES = frozenset(("https", "wss"))


class Address(NamedTuple):
    """The peer (`request.client`) or local end of a connection."""

    host: str
    port: int


# A Host header as RFC 3986 allows it: a reg-name (unreserved, sub-delims and %-escapes), a
# bracketed IPv6 literal (checked by `ipaddress` below) or a lower-case-`v` IPvFuture, then an
# optional port. Anything else (`/`, `?`, `#`, `@`, `\\`, spaces...) could move the URL's
# authority or path, so such a header is ignored and `scope["server"]` used instead.
_HOST_HEADER = re.compile(
    r"(?:[A-Za-z0-9._~%!$&'()*+,;=-]+"
    r"|\[(?:(?P<ipv6>[0-9A-Fa-f]*:[0-9A-Fa-f.:]+)|v[0-9A-Fa-f]+\.[A-Za-z0-9._~!$&'()*+,;=:-]+)\])"
    r"(?::(?P<port>[0-9]+))?"
)


def _valid_host_header(host: str) -> bool:
    match = _HOST_HEADER.fullmatch(host)
    if match is None:
        return False
    port = match["port"]
    if port is not None:
        port = port.lstrip("0")
        if len(port) > 5 or int(port or "0") > 65535:
            return False
    ipv6 = match["ipv6"]
    if ipv6 is not None:
        try:
            ipaddress.IPv6Address(ipv6)
        except ValueError:
            return False
    return True


def _bracket_ipv6(host: str) -> str:
    """`::1` -> `[::1]`: an IPv6 address must be bracketed inside a URL's authority."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def _decode_query(raw: bytes) -> str:
    """Query bytes as text; a server may pass raw non-ASCII bytes, which must not crash us."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


class URL:
    """An absolute or relative URL, parsed lazily.

    Built from a string, from an ASGI scope (scheme, Host header or server address, path and query
    string) or from keyword components (`URL(scheme="https", netloc="a.b", path="/")`).
    """

    __slots__ = ("_components", "_url")

    def __init__(self, url: str = "", scope: Scope | None = None, **components: Any) -> None:
        if scope is not None:
            if url or components:
                raise ValueError("URL() takes either a url string, a scope or components, not both")
            url = self._from_scope(scope)
        elif components:
            if url:
                raise ValueError("URL() takes either a url string or components, not both")
            url = URL("").replace(**components).components.geturl()
        self._url = url
        self._components: SplitResult | None = None

    @staticmethod
    def _from_scope(scope: Scope) -> str:
        scheme: str = scope.get("scheme", "http")
        path: str = scope["path"]
        if "?" in path or "#" in path or "\\" in path:
            # Delimiters in the decoded path stay in the path (and a backslash is never read as
            # a slash by a browser following the URL).
            path = path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
        query_string: bytes = scope.get("query_string", b"")
        netloc: str | None = None
        for key, value in scope.get("headers", ()):
            if key == b"host":
                host = value.decode("latin-1")
                if _valid_host_header(host):
                    netloc = host
                break
        if netloc is None:
            server = scope.get("server")
            if server is not None:
                server_host, port = server
                server_host = _bracket_ipv6(server_host)
                if port == _DEFAULT_PORTS.get(scheme):
                    netloc = server_host
                else:
                    netloc = f"{server_host}:{port}"
        if netloc is not None:
            # With an authority, the path must start with "/" or it would extend the authority
            # (`@evil.com`, `user:pass@...`).
            if path and not path.startswith("/"):
                path = "/" + path
            url = f"{scheme}://{netloc}{path}"
        elif path.startswith("//"):
            # Without one, a leading "//" would be read as an authority.
            url = "/%2F" + path[2:]
        else:
            url = path
        if query_string:
            url += "?" + _decode_query(query_string)
        return url

    @property
    def components(self) -> SplitResult:
        if self._components is None:
            self._components = urlsplit(self._url)
        return self._components

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        return self.components.path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> str | None:
        return self.components.username

    @property
    def password(self) -> str | None:
        return self.components.password

    @property
    def hostname(self) -> str | None:
        return self.components.hostname

    @property
    def port(self) -> int | None:
        """The explicit port, or None; a malformed port reads as None instead of raising."""
        try:
            return self.components.port
        except ValueError:
            return None

    @property
    def is_secure(self) -> bool:
        return self.scheme in _SECURE_SCHEMES

    def replace(self, **kwargs: Any) -> URL:
        """A copy with some components changed: any of scheme, netloc, path, query, fragment,
        or the netloc parts username, password, hostname, port."""
        if {"username", "password", "hostname", "port"} & kwargs.keys():
            hostname = kwargs.pop("hostname", None)
            port = kwargs.pop("port", self.port)
            username = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)
            if hostname is None:
                hostname = self.netloc.rpartition("@")[2]
                if not hostname.endswith("]"):
                    hostname = hostname.rpartition(":")[0] if ":" in hostname else hostname
            elif ":" in hostname and not hostname.startswith("["):
                try:
                    ipaddress.IPv6Address(hostname)
                except ValueError:
                    pass
                else:
                    hostname = f"[{hostname}]"
            netloc = hostname
            if port is not None:
                netloc += f":{port}"
            if username is not None:
                userinfo = username if password is None else f"{username}:{password}"
                netloc = f"{userinfo}@{netloc}"
            kwargs["netloc"] = netloc
        return self.__class__(self.components._replace(**kwargs).geturl())

    def include_query_params(self, **kwargs: Any) -> URL:
        """A copy with these parameters set (replacing any values they had), others kept."""
        params = MultiDict(parse_qsl(self.query, keep_blank_values=True))
        params.update({str(key): str(value) for key, value in kwargs.items()})
        return self.replace(query=urlencode(params.multi_items()))

    def replace_query_params(self, **kwargs: Any) -> URL:
        """A copy whose query string is exactly these parameters."""
        return self.replace(query=urlencode([(str(k), str(v)) for k, v in kwargs.items()]))

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        """A copy without the given parameter(s)."""
        drop = {keys} if isinstance(keys, str) else set(keys)
        pairs = parse_qsl(self.query, keep_blank_values=True)
        return self.replace(query=urlencode([(k, v) for k, v in pairs if k not in drop]))

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        url = self._url
        if self.password:
            url = str(self.replace(password="*" * 8))
        return f"{self.__class__.__name__}({url!r})"


class URLPath(str):
    """A path produced by `url_path_for`, which remembers the protocol and host it was built for
    so it can become an absolute URL against the request's base URL."""

    protocol: str
    host: str

    def __new__(cls, path: str, protocol: str = "", host: str = "") -> URLPath:
        if protocol not in ("http", "websocket", ""):
            raise ValueError(
                f"URLPath protocol must be 'http', 'websocket' or '', not {protocol!r}"
            )
        return str.__new__(cls, path)

    def __init__(self, path: str, protocol: str = "", host: str = "") -> None:
        self.protocol = protocol
        self.host = host

    def make_absolute_url(self, base_url: str | URL) -> URL:
        if isinstance(base_url, str):
            base_url = URL(base_url)
        if self.protocol == "http":
            scheme = "https" if base_url.is_secure else "http"
        elif self.protocol == "websocket":
            scheme = "wss" if base_url.is_secure else "ws"
        else:
            scheme = base_url.scheme
        netloc = self.host or base_url.netloc
        path = base_url.path.rstrip("/") + str(self)
        return URL(scheme=scheme, netloc=netloc, path=path)


class Secret:
    """A value that must not leak into logs or tracebacks: its repr hides it; `str()` reveals it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('**********')"

    def __str__(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)


class CommaSeparatedStrings(Sequence[str]):
    """A list read from `"a, b, 'c d'"` (shell-style quoting) or from any sequence of strings."""

    def __init__(self, value: str | Sequence[str]) -> None:
        if isinstance(value, str):
            splitter = shlex.shlex(value, posix=True)
            splitter.whitespace = ","
            splitter.whitespace_split = True
            self._items = [item.strip() for item in splitter]
        else:
            self._items = list(value)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._items!r})"

    def __str__(self) -> str:
        return ", ".join(repr(item) for item in self._items)


class ImmutableMultiDict(Mapping[_KeyType, _CovariantValueType]):
    """A read-only mapping that keeps every value of a repeated key.

    `d[key]` and `get` give the last value (as a plain dict built from the pairs would),
    `getlist(key)` all of them in order, `multi_items()` every pair.
    """

    _dict: dict[_KeyType, _CovariantValueType]
    _list: list[tuple[_KeyType, _CovariantValueType]]

    def __init__(
        self,
        *args: ImmutableMultiDict[_KeyType, _CovariantValueType]
        | Mapping[_KeyType, _CovariantValueType]
        | Iterable[tuple[_KeyType, _CovariantValueType]],
        **kwargs: Any,
    ) -> None:
        if len(args) > 1:
            raise TypeError(
                f"{self.__class__.__name__} expected at most 1 argument, got {len(args)}"
            )
        value: Any = args[0] if args else []
        if kwargs:
            value = (
                ImmutableMultiDict(value).multi_items() + ImmutableMultiDict(kwargs).multi_items()
            )
        if not value:
            items: list[Any] = []
        elif hasattr(value, "multi_items"):
            items = list(value.multi_items())
        elif isinstance(value, Mapping):
            items = list(value.items())
        else:
            items = list(value)
        self._dict = dict(items)
        self._list = items

    def getlist(self, key: Any) -> list[_CovariantValueType]:
        return [item_value for item_key, item_value in self._list if item_key == key]

    def keys(self) -> KeysView[_KeyType]:
        return self._dict.keys()

    def values(self) -> ValuesView[_CovariantValueType]:
        return self._dict.values()

    def items(self) -> ItemsView[_KeyType, _CovariantValueType]:
        return self._dict.items()

    def multi_items(self) -> list[tuple[_KeyType, _CovariantValueType]]:
        return list(self._list)

    def __getitem__(self, key: _KeyType) -> _CovariantValueType:
        return self._dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[_KeyType]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, self.__class__):
            return False
        # Sorted by key only (a stable sort): the order of one key's values is part of equality.
        return sorted(self._list, key=itemgetter(0)) == sorted(other._list, key=itemgetter(0))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.multi_items()!r})"


class MultiDict(ImmutableMultiDict[Any, Any]):
    """The mutable ImmutableMultiDict: `d[k] = v` replaces every value of `k`, `append` adds one."""

    def __setitem__(self, key: Any, value: Any) -> None:
        self.setlist(key, [value])

    def __delitem__(self, key: Any) -> None:
        self._list = [(k, v) for k, v in self._list if k != key]
        del self._dict[key]

    def pop(self, key: Any, default: Any = None) -> Any:
        self._list = [(k, v) for k, v in self._list if k != key]
        return self._dict.pop(key, default)

    def popitem(self) -> tuple[Any, Any]:
        key, value = self._dict.popitem()
        self._list = [(k, v) for k, v in self._list if k != key]
        return key, value

    def poplist(self, key: Any) -> list[Any]:
        values = [v for k, v in self._list if k == key]
        self.pop(key)
        return values

    def clear(self) -> None:
        self._dict.clear()
        self._list.clear()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self._dict[key] = default
            self._list.append((key, default))
        return self[key]

    def setlist(self, key: Any, values: list[Any]) -> None:
        if not values:
            self.pop(key, None)
            return
        kept = [(k, v) for k, v in self._list if k != key]
        kept.extend((key, value) for value in values)
        self._list = kept
        self._dict[key] = values[-1]

    def append(self, key: Any, value: Any) -> None:
        self._list.append((key, value))
        self._dict[key] = value

    def update(
        self,
        *args: MultiDict | Mapping[Any, Any] | list[tuple[Any, Any]],
        **kwargs: Any,
    ) -> None:
        """Replace the values of every key present in the argument, keep the others."""
        value = MultiDict(*args, **kwargs)
        existing = [(k, v) for k, v in self._list if k not in value]
        self._list = existing + value.multi_items()
        self._dict.update(value)


class QueryParams(ImmutableMultiDict[str, str]):
    """The query string as a multi-dict of strings: from a str, bytes, list of pairs or mapping.

    Blank values are kept (`?a=&b` gives `a=""` and `b=""`), percent-escapes are decoded, and
    malformed escapes or invalid UTF-8 decode with replacement characters instead of raising.
    """

    def __init__(
        self,
        *args: ImmutableMultiDict[Any, Any]
        | Mapping[Any, Any]
        | list[tuple[Any, Any]]
        | str
        | bytes,
        **kwargs: Any,
    ) -> None:
        value: Any = args[0] if args else []
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str):
            super().__init__(parse_qsl(value, keep_blank_values=True), **kwargs)
        else:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._list = [(str(k), str(v)) for k, v in self._list]
        self._dict = {str(k): str(v) for k, v in self._dict.items()}

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"


# RFC 9110 section 5.6.2: a field name is a non-empty `token`.
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


@functools.lru_cache(maxsize=512)
def _header_name(name: str) -> bytes:
    """`name` lowered and encoded, if it is a token (memoised: apps reuse a few names)."""
    if not name or not _TOKEN_CHARS.issuperset(name):
        raise ValueError(
            f"Invalid header name {name!r}: names must be non-empty HTTP tokens (letters, digits "
            "and !#$%&'*+-.^_`|~), never CR, LF or NUL characters (line breaks), a space or a colon"
        )
    return name.lower().encode("latin-1")


def encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    """One header pair as ASGI bytes, refusing what could split a response.

    The one check behind `Response(headers=...)`, `set_cookie` and every `MutableHeaders`
    write: a name that is not an HTTP token (so also CR/LF/NUL, a space or a colon:
    `"X\\r\\nSet-Cookie: a"` must not become two headers) and CR, LF or NUL in the value
    raise `ValueError` naming the header.
    """
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError(
            f"Invalid HTTP header {name!r}: {value!r} (header values must not contain line "
            "breaks: CR, LF or NUL characters)"
        )
    return _header_name(name), value.encode("latin-1")


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only request or response headers keeping repeats and order.

    Built from a mapping, from the raw `[(bytes, bytes)]` list, or from an ASGI scope, whose list is
    used in place (no copy, no decoding until a value is read).
    """

    __slots__ = ("_list",)

    _list: list[tuple[bytes, bytes]]

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: Scope | None = None,
    ) -> None:
        given = sum(1 for source in (headers, raw, scope) if source is not None)
        if given > 1:
            raise ValueError("Headers() takes only one of 'headers', 'raw' or 'scope'")
        if headers is not None:
            self._list = [
                (key.lower().encode("latin-1"), value.encode("latin-1"))
                for key, value in headers.items()
            ]
        elif raw is not None:
            self._list = raw
        elif scope is not None:
            # Shared, not copied: MutableHeaders(scope=...) then edits what the app sees.
            scope_headers = scope["headers"]
            if not isinstance(scope_headers, list):
                scope_headers = scope["headers"] = list(scope_headers)
            self._list = scope_headers
        else:
            self._list = []

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return self._list

    def keys(self) -> list[str]:  # type: ignore[override]
        return [key.decode("latin-1") for key, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [value.decode("latin-1") for _, value in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self._list]

    def getlist(self, key: str) -> list[str]:
        wanted = key.lower().encode("latin-1")
        return [value.decode("latin-1") for k, value in self._list if k == wanted]

    def mutablecopy(self) -> MutableHeaders:
        return MutableHeaders(raw=self._list[:])

    def get(self, key: str, default: Any = None) -> Any:
        wanted = key.lower().encode("latin-1")
        for k, value in self._list:
            if k == wanted:
                return value.decode("latin-1")
        return default

    def __getitem__(self, key: str) -> str:
        wanted = key.lower().encode("latin-1")
        for k, value in self._list:
            if k == wanted:
                return value.decode("latin-1")
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        wanted = key.lower().encode("latin-1")
        return any(k == wanted for k, _ in self._list)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return False
        return sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        name = self.__class__.__name__
        as_dict = dict(self.items())
        if len(as_dict) == len(self):
            return f"{name}({as_dict!r})"
        return f"{name}(raw={self.raw!r})"


class MutableHeaders(Headers):
    """Headers that can be edited: what middleware uses to change a response's headers.

    Values containing CR, LF or NUL are refused with ValueError (header injection).
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        """Set `key` to a single value: the first occurrence is replaced, any repeats dropped."""
        set_key, set_value = encode_header(key, value)
        found = [i for i, (k, _) in enumerate(self._list) if k == set_key]
        if not found:
            self._list.append((set_key, set_value))
            return
        for i in reversed(found[1:]):
            del self._list[i]
        self._list[found[0]] = (set_key, set_value)

    def __delitem__(self, key: str) -> None:
        del_key = key.lower().encode("latin-1")
        indexes = [i for i, (k, _) in enumerate(self._list) if k == del_key]
        if not indexes:
            raise KeyError(key)
        for i in reversed(indexes):
            del self._list[i]

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        new = self.mutablecopy()
        new.update(other)
        return new

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return self._list

    def setdefault(self, key: str, value: str) -> str:
        """The current value of `key`, or set it to `value` and return that."""
        existing = self.get(key)
        if existing is not None:
            return cast(str, existing)
        self._list.append(encode_header(key, value))
        return value

    def update(self, other: Mapping[str, str]) -> None:
        for key, value in other.items():
            self[key] = value

    def append(self, key: str, value: str) -> None:
        """Add a value without touching existing ones (e.g. a second `set-cookie`)."""
        self._list.append(encode_header(key, value))

    def add_vary_header(self, vary: str) -> None:
        existing = self.get("vary")
        if existing is not None:
            vary = ", ".join([existing, vary])
        self["vary"] = vary


class State:
    """An attribute bag (`app.state`, `request.state`) whose missing attributes say what to do.

    Also a small mapping, as in Starlette 0.52+: `state["db"]`, `state["db"] = ...`,
    `del state["db"]`, `"db" in state`, `len(state)` and iteration over the keys. Item access
    lets a lifespan that yields a TypedDict keep its types; both styles share one dict.
    """

    _state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        super().__setattr__("_state", {} if state is None else state)

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(
                f"'{self.__class__.__name__}' object has no attribute '{key}' "
                f"(set it first, e.g. `state.{key} = ...` in the lifespan or a middleware)"
            ) from None

    def __delattr__(self, key: str) -> None:
        try:
            del self._state[key]
        except KeyError:
            raise AttributeError(
                f"'{self.__class__.__name__}' object has no attribute '{key}'"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __contains__(self, key: object) -> bool:
        return key in self._state

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._state!r})"


class UploadFile:
    """An uploaded file: a SpooledTemporaryFile plus what the client said about it.

    `filename` is the client's claim and only ever data: nothing here uses it as a path. The async
    methods touch the file directly while it is in memory and go through a worker thread once it
    has rolled over to disk (or is about to), so a large upload never blocks the event loop.
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.filename = filename
        self.file = file
        self.size = size
        self.headers = headers or Headers()

    @property
    def content_type(self) -> str | None:
        return cast("str | None", self.headers.get("content-type"))

    @property
    def _in_memory(self) -> bool:
        # Only a SpooledTemporaryFile that has not rolled over is memory-backed.
        return not getattr(self.file, "_rolled", True)

    def _stays_in_memory(self, extra: int) -> bool:
        """True when a write of `extra` bytes will not trigger the (blocking) rollover to disk."""
        if not self._in_memory:
            return False
        max_size = getattr(self.file, "_max_size", 0)
        return not max_size or self.file.tell() + extra <= max_size

    async def write(self, data: bytes) -> None:
        if self.size is not None:
            self.size += len(data)
        if self._stays_in_memory(len(data)):
            self.file.write(data)
        else:
            await anyio.to_thread.run_sync(self.file.write, data)

    async def read(self, size: int = -1) -> bytes:
        if self._in_memory:
            return self.file.read(size)
        return await anyio.to_thread.run_sync(self.file.read, size)

    async def seek(self, offset: int) -> None:
        if self._in_memory:
            self.file.seek(offset)
        else:
            await anyio.to_thread.run_sync(self.file.seek, offset)

    async def close(self) -> None:
        if self._in_memory:
            self.file.close()
        else:
            await anyio.to_thread.run_sync(self.file.close)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(filename={self.filename!r}, size={self.size!r}, "
            f"headers={self.headers!r})"
        )


class FormData(ImmutableMultiDict[str, UploadFile | str]):
    """A parsed form: field values are `str`, file parts `UploadFile`. `close()` frees the files."""

    def __init__(
        self,
        *args: FormData | Mapping[str, str | UploadFile] | list[tuple[str, str | UploadFile]],
        **kwargs: str | UploadFile,
    ) -> None:
        super().__init__(*args, **kwargs)

    async def close(self) -> None:
        for _, value in self.multi_items():
            if isinstance(value, UploadFile):
                await value.close()
