"""The value types user code receives: URL, Headers, QueryParams, multi-dicts, State, UploadFile."""

from __future__ import annotations

import io
import tempfile
import time

import pytest

from asgiforge.runtime.datastructures import (
    URL,
    Address,
    CommaSeparatedStrings,
    FormData,
    Headers,
    ImmutableMultiDict,
    MultiDict,
    MutableHeaders,
    QueryParams,
    Secret,
    State,
    UploadFile,
    URLPath,
)


def http_scope(**overrides: object) -> dict[str, object]:
    scope: dict[str, object] = {
        "type": "http",
        "scheme": "http",
        "server": ("example.org", 80),
        "path": "/some/path",
        "query_string": b"a=1&b=2",
        "headers": [],
    }
    scope.update(overrides)
    return scope


# --- URL -----------------------------------------------------------------------------------------


def test_url_components() -> None:
    url = URL("https://user:secret@example.org:8443/path/to?abc=123&x=y#anchor")
    assert url.scheme == "https"
    assert url.netloc == "user:secret@example.org:8443"
    assert url.hostname == "example.org"
    assert url.port == 8443
    assert url.username == "user"
    assert url.password == "secret"
    assert url.path == "/path/to"
    assert url.query == "abc=123&x=y"
    assert url.fragment == "anchor"
    assert url.is_secure
    assert not URL("http://example.org/").is_secure
    assert URL("wss://example.org/").is_secure


def test_url_equals_its_string() -> None:
    assert URL("http://example.org/a") == "http://example.org/a"
    assert URL("http://example.org/a") == URL("http://example.org/a")
    assert URL("http://example.org/a") != "http://example.org/b"
    assert len({URL("http://a/"), URL("http://a/")}) == 1


def test_url_replace() -> None:
    url = URL("https://example.org:123/path/to/somewhere?abc=123#anchor")
    assert url.replace(scheme="http") == "http://example.org:123/path/to/somewhere?abc=123#anchor"
    assert url.replace(path="/x") == "https://example.org:123/x?abc=123#anchor"
    assert url.replace(port=None) == "https://example.org/path/to/somewhere?abc=123#anchor"
    assert url.replace(hostname="b.com") == "https://b.com:123/path/to/somewhere?abc=123#anchor"
    assert url.replace(username="u", password="p").netloc == "u:p@example.org:123"
    ipv6 = URL("http://[::1]:8000/")
    assert ipv6.replace(port=9000) == "http://[::1]:9000/"


def test_url_from_components() -> None:
    assert URL(scheme="https", netloc="example.org", path="/x") == "https://example.org/x"
    with pytest.raises(ValueError):
        URL("http://a/", scheme="https")


def test_url_query_param_helpers() -> None:
    url = URL("http://example.org/?a=1&b=2&a=3")
    assert url.include_query_params(c=4) == "http://example.org/?a=1&b=2&a=3&c=4"
    assert url.include_query_params(a=9) == "http://example.org/?b=2&a=9"
    assert url.replace_query_params(z="q") == "http://example.org/?z=q"
    assert url.remove_query_params("a") == "http://example.org/?b=2"
    assert url.remove_query_params(["a", "b"]) == "http://example.org/"


def test_url_from_scope_uses_host_header() -> None:
    scope = http_scope(headers=[(b"host", b"api.example.org:8000")])
    assert URL(scope=scope) == "http://api.example.org:8000/some/path?a=1&b=2"


def test_url_from_scope_falls_back_to_server_and_drops_default_port() -> None:
    assert URL(scope=http_scope()) == "http://example.org/some/path?a=1&b=2"
    scope = http_scope(scheme="https", server=("example.org", 8443), query_string=b"")
    assert URL(scope=scope) == "https://example.org:8443/some/path"
    assert URL(scope=http_scope(server=None, query_string=b"")) == "/some/path"


def test_url_from_scope_survives_invalid_utf8_query() -> None:
    url = URL(scope=http_scope(query_string=b"a=\xff\xfe&b=%zz"))
    assert url.path == "/some/path"
    assert "b=%zz" in url.query


def test_url_repr_hides_password() -> None:
    url = URL("https://user:topsecret@example.org/")
    assert "topsecret" not in repr(url)
    assert repr(url) == "URL('https://user:********@example.org/')"
    assert str(url) == "https://user:topsecret@example.org/"


def test_url_bad_port_reads_as_none() -> None:
    assert URL("http://example.org:notaport/").port is None


def test_urlpath_make_absolute_url() -> None:
    path = URLPath("/users/1", protocol="http")
    assert path == "/users/1"
    assert path.make_absolute_url("https://example.org/root/") == "https://example.org/root/users/1"
    ws = URLPath("/ws", protocol="websocket")
    assert ws.make_absolute_url(URL("http://example.org")) == "ws://example.org/ws"
    assert ws.make_absolute_url(URL("https://example.org")) == "wss://example.org/ws"
    hosted = URLPath("/x", protocol="http", host="api.example.org")
    assert hosted.make_absolute_url("http://example.org") == "http://api.example.org/x"
    assert URLPath("/x").make_absolute_url("ftp://h/") == "ftp://h/x"
    with pytest.raises(ValueError, match="protocol"):
        URLPath("/x", protocol="gopher")


# --- Headers -------------------------------------------------------------------------------------


def test_headers_case_insensitive_and_repeated() -> None:
    h = Headers(raw=[(b"a", b"123"), (b"a", b"456"), (b"b", b"789")])
    assert h["A"] == "123"
    assert h.get("a") == "123"
    assert h.get("missing", "dflt") == "dflt"
    assert h.getlist("a") == ["123", "456"]
    assert "B" in h
    assert "nope" not in h
    assert h.keys() == ["a", "a", "b"]
    assert h.items() == [("a", "123"), ("a", "456"), ("b", "789")]
    assert len(h) == 3
    assert list(h) == ["a", "a", "b"]
    assert h.raw == [(b"a", b"123"), (b"a", b"456"), (b"b", b"789")]
    with pytest.raises(KeyError):
        h["missing"]
    assert repr(h).startswith("Headers(raw=")


def test_headers_from_mapping_and_scope() -> None:
    h = Headers({"Content-Type": "text/plain"})
    assert h.raw == [(b"content-type", b"text/plain")]
    assert repr(h) == "Headers({'content-type': 'text/plain'})"
    scope = http_scope(headers=((b"x-a", b"1"),))
    from_scope = Headers(scope=scope)
    assert from_scope["x-a"] == "1"
    with pytest.raises(ValueError, match="only one"):
        Headers({"a": "b"}, raw=[])


def test_headers_equality() -> None:
    assert Headers(raw=[(b"a", b"1"), (b"b", b"2")]) == Headers(raw=[(b"b", b"2"), (b"a", b"1")])
    assert Headers({"a": "1"}) != Headers({"a": "2"})
    assert Headers({"a": "1"}) != {"a": "1"}


def test_headers_are_immutable() -> None:
    h = Headers({"a": "1"})
    with pytest.raises(TypeError):
        h["a"] = "2"  # type: ignore[index]


def test_mutable_headers_edit() -> None:
    h = MutableHeaders(raw=[(b"a", b"1"), (b"a", b"2"), (b"b", b"3")])
    h["A"] = "9"
    assert h.raw == [(b"a", b"9"), (b"b", b"3")]
    h.append("a", "10")
    assert h.getlist("a") == ["9", "10"]
    del h["a"]
    assert "a" not in h
    with pytest.raises(KeyError):
        del h["a"]
    assert h.setdefault("b", "x") == "3"
    assert h.setdefault("c", "x") == "x"
    h.update({"d": "4"})
    assert h["d"] == "4"


def test_mutable_headers_or_operators() -> None:
    h = MutableHeaders({"a": "1"})
    merged = h | {"b": "2"}
    assert dict(merged.items()) == {"a": "1", "b": "2"}
    assert "b" not in h
    h |= {"a": "3"}
    assert h["a"] == "3"
    with pytest.raises(TypeError):
        h |= "nope"  # type: ignore[arg-type]


def test_mutable_headers_add_vary_header() -> None:
    h = MutableHeaders()
    h.add_vary_header("Origin")
    h.add_vary_header("Accept-Encoding")
    assert h["vary"] == "Origin, Accept-Encoding"


def test_mutablecopy_is_independent() -> None:
    h = Headers({"a": "1"})
    copy = h.mutablecopy()
    copy["a"] = "2"
    assert h["a"] == "1"


def test_mutable_headers_from_scope_edit_the_scope() -> None:
    scope = http_scope(headers=[(b"a", b"1")])
    MutableHeaders(scope=scope)["b"] = "2"
    assert scope["headers"] == [(b"a", b"1"), (b"b", b"2")]


@pytest.mark.parametrize("value", ["x\r\nSet-Cookie: evil=1", "x\nY", "x\x00"])
def test_mutable_headers_refuse_header_injection(value: str) -> None:
    h = MutableHeaders()
    with pytest.raises(ValueError, match="line break"):
        h["x-test"] = value
    with pytest.raises(ValueError, match="line break"):
        h.append("x-test", value)
    assert h.raw == []


@pytest.mark.parametrize(
    "name", ["X\r\nSet-Cookie: evil=1", "x\ny", "x\x00", "x y", "x:y", "", "x-é", "(x)"]
)
def test_mutable_headers_refuse_invalid_header_names(name: str) -> None:
    h = MutableHeaders()
    with pytest.raises(ValueError, match="Invalid header name"):
        h[name] = "v"
    with pytest.raises(ValueError, match="Invalid header name"):
        h.append(name, "v")
    with pytest.raises(ValueError, match="Invalid header name"):
        h.setdefault(name, "v")
    with pytest.raises(ValueError, match="Invalid header name"):
        h.update({name: "v"})
    assert h.raw == []


def test_mutable_headers_accept_every_token_character() -> None:
    h = MutableHeaders()
    name = "X-Custom_1.a!#$%&'*+^`|~"
    h[name] = "v"
    assert h[name] == "v"
    assert h.raw == [(name.lower().encode(), b"v")]


# --- QueryParams and multi-dicts ----------------------------------------------------------------


def test_query_params_from_string() -> None:
    q = QueryParams("a=123&a=456&b=789&blank=")
    assert q["a"] == "456"
    assert q.getlist("a") == ["123", "456"]
    assert q["blank"] == ""
    assert q.multi_items() == [("a", "123"), ("a", "456"), ("b", "789"), ("blank", "")]
    assert str(q) == "a=123&a=456&b=789&blank="
    assert repr(q) == "QueryParams('a=123&a=456&b=789&blank=')"
    assert q == QueryParams([("b", "789"), ("a", "123"), ("a", "456"), ("blank", "")])


def test_query_params_from_other_sources() -> None:
    assert QueryParams(b"a=1&b=%20x")["b"] == " x"
    assert QueryParams({"a": 1})["a"] == "1"
    assert QueryParams([("a", "1"), ("a", "2")]).getlist("a") == ["1", "2"]
    assert QueryParams(a="1")["a"] == "1"
    assert dict(QueryParams()) == {}


@pytest.mark.parametrize(
    "raw",
    [b"a=%zz&b=%", b"a=%ff%fe", b"\xff\xfe=\xc3\x28", b"%" * 10_000, b"&" * 10_000 + b"a=1"],
)
def test_query_params_survive_hostile_input(raw: bytes) -> None:
    start = time.perf_counter()
    q = QueryParams(raw)
    str(q)
    assert time.perf_counter() - start < 1.0


def test_query_params_malformed_escapes_decode_with_replacement() -> None:
    q = QueryParams("a=%zz&b=%ff")
    assert q["a"] == "%zz"
    assert q["b"] == "\ufffd"


def test_immutable_multidict() -> None:
    d = ImmutableMultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert d["a"] == "2"
    assert d.getlist("a") == ["1", "2"]
    assert list(d.keys()) == ["a", "b"]
    assert list(d.values()) == ["2", "3"]
    assert len(d) == 2
    assert "a" in d
    assert d == ImmutableMultiDict([("b", "3"), ("a", "1"), ("a", "2")])
    assert d != ImmutableMultiDict([("a", "1")])
    assert ImmutableMultiDict(d, c="4")["c"] == "4"
    with pytest.raises(TypeError):
        ImmutableMultiDict([], [])  # type: ignore[call-arg]


def test_multidict_mutations() -> None:
    d = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    d["a"] = "9"
    assert d.getlist("a") == ["9"]
    d.append("a", "10")
    assert d.getlist("a") == ["9", "10"]
    assert d.poplist("a") == ["9", "10"]
    assert "a" not in d
    assert d.setdefault("c", "5") == "5"
    d.update({"b": "7"})
    assert d.multi_items() == [("c", "5"), ("b", "7")]
    del d["b"]
    assert d.pop("c") == "5"
    assert d.pop("c", "gone") == "gone"
    d.setlist("x", ["1", "2"])
    assert d.getlist("x") == ["1", "2"]
    assert d.popitem() == ("x", "2")
    d.append("y", "1")
    d.clear()
    assert len(d) == 0
    assert d.multi_items() == []


# --- small types ---------------------------------------------------------------------------------


def test_state_attribute_bag() -> None:
    state = State({"a": 1})
    state.b = 2
    assert state.a == 1
    assert state.b == 2
    del state.b
    with pytest.raises(AttributeError, match="'State' object has no attribute 'b'"):
        state.b
    with pytest.raises(AttributeError):
        del state.b


def test_state_dictionary_style_access_shares_the_attribute_dict() -> None:
    backing: dict[str, object] = {"db": "pool"}
    state = State(backing)
    assert state["db"] == "pool"
    state["cache"] = "redis"
    assert state.cache == "redis"
    assert backing == {"db": "pool", "cache": "redis"}
    assert "db" in state
    assert "missing" not in state
    assert len(state) == 2
    assert list(state) == ["db", "cache"]
    del state["cache"]
    assert "cache" not in state
    with pytest.raises(KeyError):
        state["cache"]
    with pytest.raises(KeyError):
        del state["cache"]
    assert len(State()) == 0


def test_address() -> None:
    address = Address("127.0.0.1", 8000)
    host, port = address
    assert (address.host, address.port) == (host, port) == ("127.0.0.1", 8000)


def test_secret_hides_its_value() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert str(secret) == "hunter2"
    assert bool(secret)
    assert not Secret("")


def test_comma_separated_strings() -> None:
    items = CommaSeparatedStrings("localhost, 127.0.0.1,'a b' ,example.com")
    assert list(items) == ["localhost", "127.0.0.1", "a b", "example.com"]
    assert len(items) == 4
    assert items[0] == "localhost"
    assert str(items) == "'localhost', '127.0.0.1', 'a b', 'example.com'"
    assert list(CommaSeparatedStrings(["x", "y"])) == ["x", "y"]
    assert repr(CommaSeparatedStrings("a")) == "CommaSeparatedStrings(['a'])"


# --- UploadFile / FormData -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_upload_file_in_memory_roundtrip() -> None:
    file = UploadFile(
        tempfile.SpooledTemporaryFile(max_size=1024),  # noqa: SIM115
        size=0,
        filename="../../etc/passwd",
        headers=Headers({"content-type": "text/plain"}),
    )
    await file.write(b"hello ")
    await file.write(b"world")
    assert file.size == 11
    await file.seek(0)
    assert await file.read() == b"hello world"
    assert file.filename == "../../etc/passwd"
    assert file.content_type == "text/plain"
    assert "passwd" in repr(file)
    await file.close()
    assert file.file.closed


@pytest.mark.anyio
async def test_upload_file_rolls_to_disk_through_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import anyio.to_thread

    calls: list[str] = []
    real = anyio.to_thread.run_sync

    async def spy(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", spy)
    file = UploadFile(tempfile.SpooledTemporaryFile(max_size=10), size=0)  # noqa: SIM115
    await file.write(b"12345")
    assert calls == []  # still in memory: no thread hop
    await file.write(b"6789012345")  # this write rolls the file over: must not block the loop
    assert calls == ["write"]
    assert file.file._rolled  # type: ignore[attr-defined]
    await file.seek(0)
    assert await file.read() == b"123456789012345"
    await file.close()
    assert calls == ["write", "seek", "read", "close"]
    assert file.size == 15


@pytest.mark.anyio
async def test_upload_file_without_size_or_headers() -> None:
    file = UploadFile(io.BytesIO())
    await file.write(b"x")
    assert file.size is None
    assert file.content_type is None
    await file.close()


@pytest.mark.anyio
async def test_form_data_close_closes_files() -> None:
    upload = UploadFile(tempfile.SpooledTemporaryFile(), filename="a.txt")  # noqa: SIM115
    form = FormData([("name", "value"), ("file", upload)])
    assert form["name"] == "value"
    assert form["file"] is upload
    await form.close()
    assert upload.file.closed
    assert FormData(a="1")["a"] == "1"


@pytest.mark.parametrize(
    "host",
    [b"foo/?x=", b"foo/#", b"user@foo", b"foo\\bar", b"foo bar", b"foo:65536", b"[:::]", b"[V1.x]"],
)
def test_url_from_scope_ignores_a_host_header_that_would_move_the_authority(host: bytes) -> None:
    scope = {
        "scheme": "http",
        "server": ("example.com", 80),
        "path": "/admin",
        "query_string": b"",
        "headers": [(b"host", host)],
    }
    url = URL(scope=scope)
    assert (url.netloc, url.path) == ("example.com", "/admin")


def test_url_from_scope_keeps_the_path_out_of_the_authority() -> None:
    scope = {"path": "@evil.com", "query_string": b"", "headers": [(b"host", b"a.com")]}
    assert (URL(scope=scope).hostname, URL(scope=scope).path) == ("a.com", "/@evil.com")
    scope = {"path": "//evil.com/x", "query_string": b"", "headers": []}
    assert URL(scope=scope) == "/%2Fevil.com/x"
    scope = {"path": "/a?b#c\\d", "query_string": b"", "headers": [(b"host", b"a.com")]}
    assert URL(scope=scope).path == "/a%3Fb%23c%5Cd"


def test_url_from_scope_brackets_an_ipv6_server_and_replace_keeps_brackets() -> None:
    scope = {"scheme": "http", "server": ("::1", 8000), "path": "/", "headers": []}
    assert URL(scope=scope).netloc == "[::1]:8000"
    url = URL("https://[fe::2]:1")
    assert url.replace(hostname=url.hostname) == url
