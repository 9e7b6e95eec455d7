"""StaticFiles as a browser (or an attacker) sees it: files, 304, ranges, html mode, containment."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from asgiforge.runtime import _static_cache
from asgiforge.runtime._conditional import read_small_file
from asgiforge.runtime.applications import App
from asgiforge.runtime.exceptions import HTTPException
from asgiforge.runtime.routing import Mount
from asgiforge.runtime.staticfiles import StaticFiles
from asgiforge.runtime.testclient import TestClient
from asgiforge.runtime.types import Message
from asgiforge.runtime.websockets import WebSocketDisconnect


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """static/ (served), static_private/ (a sibling sharing the prefix) and secret.txt beside."""
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "docs").mkdir()
    (static / "example.txt").write_text("<file content>")
    (static / "css" / "app.css").write_text("body{}")
    (static / "docs" / "index.html").write_text("<h1>docs</h1>")
    (static / "index.html").write_text("<h1>home</h1>")
    (tmp_path / "static_private").mkdir()
    (tmp_path / "static_private" / "key.txt").write_text("private")
    (tmp_path / "secret.txt").write_text("secret")
    return static


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The small-file cache's clock, moved by hand (`clock[0] += 1.0`); never `asgiforge dev`."""
    now = [1000.0]
    monkeypatch.setattr(_static_cache, "_now", lambda: now[0])
    monkeypatch.delenv("ASGIFORGE_DEV", raising=False)
    return now


class Counting(StaticFiles):
    """Counts `lookup_path` calls: each is a request that went to a worker thread."""

    lookups = 0

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        self.lookups += 1
        return super().lookup_path(path)


def mounted(directory: Path, **options: Any) -> TestClient:
    """The seed's layout: StaticFiles mounted at /static inside an App."""
    app = App(routes=[Mount("/static", app=StaticFiles(directory=directory, **options))])
    return TestClient(app)


def test_serves_a_file_with_validators(site: Path) -> None:
    response = mounted(site).get("/static/example.txt")
    assert response.status_code == 200
    assert response.text == "<file content>"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["accept-ranges"] == "bytes"
    assert "etag" in response.headers
    assert "last-modified" in response.headers


def test_nested_file_and_head(site: Path) -> None:
    client = mounted(site)
    assert client.get("/static/css/app.css").text == "body{}"
    head = client.head("/static/css/app.css")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "6"


def test_missing_file_and_directory_without_html_are_404(site: Path) -> None:
    client = mounted(site)
    assert client.get("/static/nope.txt").status_code == 404
    assert client.get("/static/css").status_code == 404
    assert client.get("/static/").status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(site: Path, method: str) -> None:
    response = mounted(site).request(method, "/static/example.txt")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_conditional_requests_give_304(site: Path) -> None:
    client = mounted(site)
    first = client.get("/static/example.txt")
    again = client.get("/static/example.txt", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    since = client.get(
        "/static/example.txt", headers={"If-Modified-Since": first.headers["last-modified"]}
    )
    assert since.status_code == 304
    changed = client.get("/static/example.txt", headers={"If-None-Match": '"different"'})
    assert changed.status_code == 200


def test_ranges_like_file_response(site: Path) -> None:
    client = mounted(site)
    response = client.get("/static/example.txt", headers={"Range": "bytes=1-4"})
    assert response.status_code == 206
    assert response.content == b"file"
    response = client.get("/static/example.txt", headers={"Range": "bytes=100-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */14"


def test_html_mode_index_and_404_page(site: Path) -> None:
    (site / "404.html").write_text("<h1>custom 404</h1>")
    client = mounted(site, html=True)
    assert client.get("/static/").text == "<h1>home</h1>"
    assert client.get("/static/docs/").text == "<h1>docs</h1>"
    missing = client.get("/static/nothing-here")
    assert missing.status_code == 404
    assert missing.text == "<h1>custom 404</h1>"
    assert mounted(site, html=False).get("/static/nothing-here").text != "<h1>custom 404</h1>"


def test_html_mode_directory_redirect_is_path_only(site: Path) -> None:
    client = mounted(site, html=True)
    response = client.get(
        "/static/docs?x=1", headers={"Host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code == 307
    assert response.headers["location"] == "/static/docs/?x=1"
    followed = client.get("/static/docs")
    assert followed.text == "<h1>docs</h1>"


@pytest.mark.anyio
async def test_directory_redirect_never_starts_with_double_slash(site: Path) -> None:
    app = StaticFiles(directory=site, html=True)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "//docs",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"evil.example")],
    }
    await app(scope, None, send)  # type: ignore[arg-type]
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 307
    assert headers[b"location"] == b"/docs/"


HOSTILE = [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..%5c..%5csecret.txt",
    "/static/css/../../secret.txt",
    "/static/..\\secret.txt",
    "/static/css\\..\\example.txt",
    "/static/example.txt%00.png",
    "/static/../static_private/key.txt",
    "/static_private/key.txt",
    "/static/" + "a" * 5000,
    "/static/" + "/".join(["a"] * 3000),
    "/static/%ff%fe",
]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_are_404_never_500_or_401(site: Path, path: str) -> None:
    client = TestClient(
        App(routes=[Mount("/static", app=StaticFiles(directory=site))]),
        raise_server_exceptions=False,
    )
    try:
        response = client.get(path)
    except UnicodeEncodeError:
        pytest.skip("the client cannot send this path")
    assert response.status_code == 404, response.text
    assert "secret" not in response.text and "private" not in response.text


@pytest.mark.anyio
@pytest.mark.parametrize(
    "route_path",
    [
        "/../secret.txt",
        "/css/../../secret.txt",
        "/..\\secret.txt",
        "/example.txt\x00",
        "/\x00",
        "/../static_private/key.txt",
        "/\udcff.txt",
        "/" + "x" * 10_000,
    ],
)
async def test_decoded_hostile_paths_from_the_server_are_404(site: Path, route_path: str) -> None:
    """What a server hands over after percent-decoding: still a 404, also with no App around
    (where, as in Starlette, it is the HTTPException itself and nothing is sent)."""
    app = StaticFiles(directory=site)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": route_path,
        "root_path": "",
        "query_string": b"",
        "headers": [],
    }
    with pytest.raises(HTTPException) as info:
        await app(scope, None, send)  # type: ignore[arg-type]
    assert info.value.status_code == 404
    assert sent == []


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_symlinks_out_of_the_root_need_follow_symlink(site: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.txt", site / "link.txt")
    os.symlink(tmp_path / "static_private", site / "linked_dir")
    os.symlink(site / "example.txt", site / "inside.txt")
    strict = mounted(site)
    assert strict.get("/static/link.txt").status_code == 404
    assert strict.get("/static/linked_dir/key.txt").status_code == 404
    assert strict.get("/static/inside.txt").text == "<file content>"
    relaxed = mounted(site, follow_symlink=True)
    assert relaxed.get("/static/link.txt").text == "secret"
    assert relaxed.get("/static/linked_dir/key.txt").text == "private"
    assert relaxed.get("/static/../secret.txt").status_code == 404


def test_unreadable_file_is_404_not_401(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PermissionError (EACCES) must look like any other miss (a real chmod is moot as root)."""
    real_stat = os.stat

    def guarded_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if "locked" in os.fspath(path):
            raise PermissionError(13, "Permission denied", path)
        return real_stat(path, *args, **kwargs)

    (site / "locked.txt").write_text("x")
    client = mounted(site)
    assert client.get("/static/example.txt").status_code == 200
    monkeypatch.setattr(os, "stat", guarded_stat)
    response = client.get("/static/locked.txt")
    assert response.status_code == 404


def test_served_bare_without_an_app(site: Path) -> None:
    """Without an App, a miss is the HTTPException itself, as in Starlette."""
    client = TestClient(StaticFiles(directory=site))
    assert client.get("/example.txt").text == "<file content>"
    with pytest.raises(HTTPException) as info:
        client.get("/missing")
    assert info.value.status_code == 404
    with pytest.raises(HTTPException) as info:
        client.post("/example.txt")
    assert info.value.status_code == 405


def test_a_websocket_scope_is_closed_normally(site: Path) -> None:
    client = TestClient(App(routes=[Mount("/static", app=StaticFiles(directory=site))]))
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/static/example.txt"),
    ):
        pass
    assert info.value.code == 1000


def test_a_relative_directory_follows_a_later_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("one", "two"):
        (tmp_path / name / "static").mkdir(parents=True)
        (tmp_path / name / "static" / "f.txt").write_text(name)
    monkeypatch.chdir(tmp_path / "one")
    client = TestClient(StaticFiles(directory="static", revalidate_interval=0))
    assert client.get("/f.txt").text == "one"
    monkeypatch.chdir(tmp_path / "two")
    assert client.get("/f.txt").text == "two"


def test_a_later_chdir_is_followed_within_the_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    for name in ("one", "two"):
        (tmp_path / name / "static").mkdir(parents=True)
        (tmp_path / name / "static" / "f.txt").write_text(name)
    monkeypatch.chdir(tmp_path / "one")
    client = TestClient(StaticFiles(directory="static"))
    assert client.get("/f.txt").text == "one"
    monkeypatch.chdir(tmp_path / "two")
    assert client.get("/f.txt").text == "one"  # the cached copy, checked < 1 s ago
    clock[0] += 1.0
    assert client.get("/f.txt").text == "two"


def test_directory_checks(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="does not exist"):
        StaticFiles(directory=tmp_path / "missing")
    lazy = StaticFiles(directory=tmp_path / "later", check_dir=False)
    client = TestClient(lazy)
    with pytest.raises(RuntimeError, match="does not exist"):
        client.get("/x")
    (tmp_path / "file").write_text("x")
    not_dir = StaticFiles(directory=tmp_path / "file", check_dir=False)
    with pytest.raises(RuntimeError, match="is not a directory"):
        TestClient(not_dir).get("/x")


def test_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "mypkg"
    (package / "statics").mkdir(parents=True)
    (package / "assets").mkdir()
    (package / "__init__.py").write_text("")
    (package / "statics" / "a.txt").write_text("from statics")
    (package / "assets" / "b.txt").write_text("from assets")
    monkeypatch.syspath_prepend(str(tmp_path))
    client = TestClient(StaticFiles(packages=["mypkg", ("mypkg", "assets")]))
    assert client.get("/a.txt").text == "from statics"
    assert client.get("/b.txt").text == "from assets"
    with pytest.raises(RuntimeError, match="could not be found"):
        StaticFiles(packages=["no_such_package_xyz"])
    with pytest.raises(RuntimeError, match="could not be found"):
        StaticFiles(packages=[("mypkg", "nope")])


def test_directory_takes_precedence_over_packages(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "pkg2"
    (package / "statics").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "statics" / "example.txt").write_text("package copy")
    monkeypatch.syspath_prepend(str(tmp_path))
    client = TestClient(StaticFiles(directory=site, packages=["pkg2"]))
    assert client.get("/example.txt").text == "<file content>"


@pytest.mark.anyio
async def test_large_file_is_streamed_in_chunks(site: Path) -> None:
    (site / "big.bin").write_bytes(b"x" * (300 * 1024))
    app = StaticFiles(directory=site)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/big.bin", "headers": []}
    with anyio.fail_after(5):
        await app(scope, None, send)  # type: ignore[arg-type]
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert len(bodies) > 2
    assert sum(len(m["body"]) for m in bodies) == 300 * 1024


@pytest.mark.anyio
async def test_backslashes_are_refused_even_when_such_a_file_exists(site: Path) -> None:
    """A backslash is a separator on Windows; refusing it keeps the rule the same everywhere."""
    (site / "a\\b.txt").write_text("ambiguous")
    app = StaticFiles(directory=site)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/a\\b.txt", "headers": []}
    with pytest.raises(HTTPException) as info:
        await app(scope, None, send)  # type: ignore[arg-type]
    assert info.value.status_code == 404
    assert sent == []


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_a_symlinked_root_follows_a_redeploy(tmp_path: Path) -> None:
    """`current -> release-N` re-pointed: the new release is served, as in Starlette."""
    for name in ("r1", "r2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f.txt").write_text(name)
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "r1")
    client = TestClient(StaticFiles(directory=current, revalidate_interval=0))
    assert client.get("/f.txt").text == "r1"
    current.unlink()
    current.symlink_to(tmp_path / "r2")
    assert client.get("/f.txt").text == "r2"
    # Renamed in place (same inode): the remembered root is stale and checked afresh.
    (tmp_path / "r2").rename(tmp_path / "r3")
    current.unlink()
    current.symlink_to(tmp_path / "r3")
    assert client.get("/f.txt").text == "r2"


# --- The small-file cache -------------------------------------------------------------------


def test_a_small_file_is_served_from_memory_within_the_interval(
    site: Path, clock: list[float]
) -> None:
    app = Counting(directory=site)
    client = TestClient(app)
    first = client.get("/example.txt")
    assert app.lookups == 1
    for _ in range(3):
        again = client.get("/example.txt")
        assert again.content == b"<file content>"
        assert again.headers == first.headers
    assert client.head("/example.txt").headers["content-length"] == "14"
    assert app.lookups == 1
    clock[0] += 1.0
    assert client.get("/example.txt").text == "<file content>"
    assert app.lookups == 2


def test_an_edited_file_is_served_fresh_after_the_interval(site: Path, clock: list[float]) -> None:
    client = TestClient(StaticFiles(directory=site))
    client.get("/example.txt")
    (site / "example.txt").write_text("<new content!>")  # the same size
    assert client.get("/example.txt").text == "<file content>"  # within the interval
    clock[0] += 0.999
    assert client.get("/example.txt").text == "<file content>"
    clock[0] += 0.001
    assert client.get("/example.txt").text == "<new content!>"


def test_conditional_and_range_requests_always_see_the_disk(site: Path, clock: list[float]) -> None:
    client = TestClient(StaticFiles(directory=site))
    etag = client.get("/example.txt").headers["etag"]
    (site / "example.txt").write_text("changed, and longer")
    assert client.get("/example.txt", headers={"if-none-match": etag}).status_code == 200
    ranged = client.get("/example.txt", headers={"range": "bytes=0-6"})
    assert ranged.status_code == 206
    assert ranged.content == b"changed"
    (site / "example.txt").unlink()
    with pytest.raises(HTTPException) as info:
        client.get("/example.txt", headers={"if-modified-since": "Thu, 01 Jan 2099 00:00:00 GMT"})
    assert info.value.status_code == 404


def test_a_deleted_file_is_gone_after_the_interval(site: Path, clock: list[float]) -> None:
    client = TestClient(StaticFiles(directory=site))
    assert client.get("/example.txt").status_code == 200
    (site / "example.txt").unlink()
    clock[0] += 1.0
    with pytest.raises(HTTPException) as info:
        client.get("/example.txt")
    assert info.value.status_code == 404


def test_revalidate_interval_is_a_setting(site: Path, clock: list[float]) -> None:
    app = Counting(directory=site, revalidate_interval=30)
    client = TestClient(app)
    client.get("/example.txt")
    clock[0] += 29.9
    client.get("/example.txt")
    assert app.lookups == 1
    clock[0] += 0.1
    client.get("/example.txt")
    assert app.lookups == 2


def test_under_asgiforge_dev_every_request_sees_the_disk(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASGIFORGE_DEV", "1")
    app = Counting(directory=site)
    client = TestClient(app)
    assert client.get("/example.txt").text == "<file content>"
    (site / "example.txt").write_text("<new content!>")
    assert client.get("/example.txt").text == "<new content!>"
    assert app.lookups == 2
    monkeypatch.setenv("ASGIFORGE_DEV", "0")  # "0" is off; read when the cache is made
    off = Counting(directory=site)
    TestClient(off).get("/example.txt")
    TestClient(off).get("/example.txt")
    assert off.lookups == 1


def test_the_cache_stays_within_its_budget(tmp_path: Path) -> None:
    for name in "abcd":
        (tmp_path / f"{name}.bin").write_bytes(name.encode() * 40_000)
    app = Counting(directory=tmp_path, cache_max_bytes=100_000)
    client = TestClient(app)
    for name in "abc":  # a and b fit; c evicts a, the least recently used
        assert client.get(f"/{name}.bin").content == name.encode() * 40_000
    assert app._cache is not None
    assert app._cache.used <= 100_000
    assert len(app._cache) == 2
    app.lookups = 0
    client.get("/c.bin")
    client.get("/b.bin")
    assert app.lookups == 0
    client.get("/a.bin")  # evicted: checked and read again, evicting c (b was used later)
    assert app.lookups == 1
    client.get("/b.bin")
    assert app.lookups == 1
    client.get("/c.bin")
    assert app.lookups == 2
    assert app._cache.used <= 100_000


def test_large_files_are_never_cached(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * (64 * 1024 + 1))
    (tmp_path / "small.bin").write_bytes(b"y" * 100)
    app = Counting(directory=tmp_path, cache_max_file_size=64 * 1024)
    client = TestClient(app)
    for _ in range(2):
        assert len(client.get("/big.bin").content) == 64 * 1024 + 1
    assert app.lookups == 2
    tiny = Counting(directory=tmp_path, cache_max_file_size=99)
    for _ in range(2):
        TestClient(tiny).get("/small.bin")
    assert tiny.lookups == 2


def test_no_budget_means_no_cache(site: Path) -> None:
    app = Counting(directory=site, cache_max_bytes=0)
    client = TestClient(app)
    client.get("/example.txt")
    client.get("/example.txt")
    assert app.lookups == 2


def test_changed_settings_drop_the_cache(site: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "example.txt").write_text("other")
    app = StaticFiles(directory=site)
    client = TestClient(app)
    assert client.get("/example.txt").text == "<file content>"
    app.all_directories = [other]
    assert client.get("/example.txt").text == "other"


def test_bad_cache_settings_are_refused(site: Path) -> None:
    with pytest.raises(ValueError, match="cache_max_bytes"):
        StaticFiles(directory=site, cache_max_bytes=-1)
    with pytest.raises(ValueError, match="revalidate_interval"):
        StaticFiles(directory=site, revalidate_interval=-1)
    with pytest.raises(ValueError, match="revalidate_interval"):
        StaticFiles(directory=site, revalidate_interval=float("nan"))


def test_html_index_is_cached_and_still_redirects(site: Path) -> None:
    app = Counting(directory=site, html=True)
    client = TestClient(app, follow_redirects=False)
    assert client.get("/docs/").text == "<h1>docs</h1>"
    lookups = app.lookups
    assert client.get("/docs/").text == "<h1>docs</h1>"
    redirect = client.get("/docs")
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "/docs/"
    assert app.lookups == lookups


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_a_cached_path_never_skips_containment(site: Path, clock: list[float]) -> None:
    """A file swapped for a symlink leaving the root is refused once the interval is over, and
    a traversal path never reaches a cached entry (the key is the normalised path)."""
    client = TestClient(StaticFiles(directory=site))
    assert client.get("/example.txt").status_code == 200
    for path in ("/../secret.txt", "/css/../../secret.txt", "/%2e%2e/secret.txt"):
        with pytest.raises(HTTPException) as info:
            client.get(path)
        assert info.value.status_code == 404
    (site / "example.txt").unlink()
    (site / "example.txt").symlink_to(site.parent / "secret.txt")
    clock[0] += 1.0
    with pytest.raises(HTTPException) as info:
        client.get("/example.txt")
    assert info.value.status_code == 404


def test_each_cached_response_has_its_own_headers(site: Path) -> None:
    class Numbered(StaticFiles):
        served = 0

        async def get_response(self, path: str, scope: Any) -> Any:
            response = await super().get_response(path, scope)
            self.served += 1
            response.headers.append("x-served", str(self.served))
            return response

    client = TestClient(Numbered(directory=site))
    for n in (1, 2, 3):
        response = client.get("/example.txt")
        assert response.headers.get_list("x-served") == [str(n)]
        assert response.text == "<file content>"


def test_an_overridden_file_response_is_used_for_cached_files(site: Path) -> None:
    class Cached(StaticFiles):
        def file_response(self, *args: Any, **kwargs: Any) -> Any:
            response = super().file_response(*args, **kwargs)
            response.headers["cache-control"] = "max-age=60"
            return response

    client = TestClient(Cached(directory=site))
    for _ in range(2):
        response = client.get("/example.txt")
        assert response.headers["cache-control"] == "max-age=60"
        assert response.text == "<file content>"


@pytest.mark.parametrize(
    "route_path",
    ["", "/", "/a", "/a/", "//a//b/", "/a/./b", "/../x", "/a/../../x", "/.", "/..", "/a\\b", "/ /"],
)
def test_get_path_is_the_portable_normalisation(route_path: str) -> None:
    app = StaticFiles(directory=".", check_dir=False)
    scope = {"type": "http", "path": route_path, "root_path": ""}
    expected = os.path.normpath(os.path.join(*route_path.split("/")))
    assert app.get_path(scope) == expected


def test_an_unchanged_file_is_not_read_again_at_its_check(
    site: Path, clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The periodic check costs a stat, not a read, unless the file changed (or changed so
    recently that its stat could not show a further change)."""
    from asgiforge.runtime import staticfiles

    reads: list[str] = []

    def counting_read(path: Any, expected: os.stat_result, limit: int) -> bytes | None:
        reads.append(str(path))
        return read_small_file(path, expected, limit)

    monkeypatch.setattr(staticfiles, "read_small_file", counting_read)
    client = TestClient(StaticFiles(directory=site))
    client.get("/example.txt")
    clock[0] += 1.0
    client.get("/example.txt")
    assert len(reads) == 2  # just written: "racy", so read again
    monkeypatch.setattr(_static_cache, "_RACY_NS", 0)
    clock[0] += 1.0
    client.get("/example.txt")  # read once more, now trusted on its stat
    clock[0] += 1.0
    assert client.get("/example.txt").text == "<file content>"
    assert len(reads) == 3
    (site / "example.txt").write_text("<a longer new content>")
    clock[0] += 1.0
    assert client.get("/example.txt").text == "<a longer new content>"
    assert len(reads) == 4


def test_the_budget_bounds_the_memory_really_held(tmp_path: Path) -> None:
    """What an entry is charged covers what it holds (measured), even for empty files."""
    import tracemalloc

    for i in range(200):
        (tmp_path / f"file-{i:04d}.css").write_bytes(b"")
    app = StaticFiles(directory=tmp_path)
    client = TestClient(app)
    client.get("/file-0000.css")  # one-time allocations (the cache, the client's machinery)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(1, 200):
            client.get(f"/file-{i:04d}.css")
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert app._cache is not None
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    charged = app._cache.used * 199 / 200
    assert held <= charged
