"""SessionMiddleware: signed-cookie sessions, their flags, and every kind of bad cookie."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.sessions import Session, SessionMiddleware
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import JSONResponse, PlainTextResponse, Response
from asgiforge.runtime.routing import Route
from asgiforge.runtime.testclient import TestClient
from tests.runtime.middleware._asgi import Recorder, call, http_scope


async def view(request: Request) -> Response:
    return JSONResponse(dict(request.session))


async def update(request: Request) -> Response:
    request.session.update(await request.json())
    return JSONResponse(dict(request.session))


async def clear(request: Request) -> Response:
    request.session.clear()
    return JSONResponse({})


async def untouched(request: Request) -> Response:
    return PlainTextResponse("no session here", headers={"vary": "Accept-Encoding"})


async def view_with_vary(request: Request) -> Response:
    return JSONResponse(dict(request.session), headers={"vary": "Accept-Encoding"})


async def replace(request: Request) -> Response:
    request.scope["session"] = {"replaced": True}
    return JSONResponse({})


async def no_change(request: Request) -> Response:
    session = request.session
    session.pop("missing", None)
    session.setdefault("user", "someone else")  # already there: no change
    return JSONResponse(dict(session))


def make_app(**options: Any) -> App:
    options.setdefault("secret_key", "s3cret")
    return App(
        routes=[
            Route("/", view),
            Route("/update", update, methods=["POST"]),
            Route("/clear", clear, methods=["POST"]),
            Route("/untouched", untouched),
            Route("/vary", view_with_vary),
            Route("/replace", replace, methods=["POST"]),
            Route("/no-change", no_change),
        ],
        middleware=[Middleware(SessionMiddleware, **options)],
    )


def test_session_round_trip_and_default_flags() -> None:
    client = TestClient(make_app())
    assert client.get("/").json() == {}
    response = client.post("/update", json={"user": "ada"})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("session=")
    # Starlette's spelling of the attributes, which code inspecting Set-Cookie relies on.
    assert cookie.split("; ")[1:] == [
        "path=/",
        f"Max-Age={14 * 24 * 3600}",
        "httponly",
        "samesite=lax",
    ]
    assert client.get("/").json() == {"user": "ada"}


def test_clearing_the_session_expires_the_cookie() -> None:
    client = TestClient(make_app())
    client.post("/update", json={"a": 1})
    response = client.post("/clear")
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert client.get("/").json() == {}


def test_no_cookie_set_for_an_empty_untouched_session() -> None:
    response = TestClient(make_app()).get("/")
    assert "set-cookie" not in response.headers


def test_cookie_is_sent_only_when_the_session_changes() -> None:
    client = TestClient(make_app())
    first = client.post("/update", json={"user": "ada"})
    assert "set-cookie" in first.headers
    assert first.headers["vary"] == "Cookie"
    read = client.get("/")
    assert read.json() == {"user": "ada"}
    assert "set-cookie" not in read.headers  # read only: nothing to re-send
    assert read.headers["vary"] == "Cookie"  # but the page depends on the cookie
    same = client.get("/no-change")
    assert same.json() == {"user": "ada"}
    assert "set-cookie" not in same.headers


def test_untouched_session_adds_neither_cookie_nor_vary() -> None:
    client = TestClient(make_app())
    client.post("/update", json={"user": "ada"})
    response = client.get("/untouched")
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"


def test_vary_cookie_merges_with_the_responses_vary() -> None:
    response = TestClient(make_app()).get("/vary")
    assert response.headers.get_list("vary") == ["Accept-Encoding, Cookie"]


def test_clearing_an_empty_session_sends_no_cookie() -> None:
    response = TestClient(make_app()).post("/clear")
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie"


def test_a_replaced_session_dict_is_saved() -> None:
    client = TestClient(make_app())
    assert "set-cookie" in client.post("/replace").headers
    assert client.get("/").json() == {"replaced": True}


def test_session_tracks_access_and_changes() -> None:
    session = Session({"a": 1, "b": 2})
    assert not session.accessed and not session.modified
    session.get("a")
    session.pop("missing", None)
    session.setdefault("a", 5)
    assert not session.modified
    session.mark_accessed()
    assert session.accessed and not session.modified
    changes: list[Any] = [
        lambda s: s.__setitem__("c", 3),
        lambda s: s.__delitem__("a"),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.setdefault("new", 1),
        lambda s: s.update(x=1),
        lambda s: s.clear(),
        lambda s: s.__ior__({"y": 2}),
    ]
    for change in changes:
        fresh = Session({"a": 1})
        change(fresh)
        assert fresh.modified and fresh.accessed, change


def test_custom_cookie_options() -> None:
    client = TestClient(
        make_app(
            session_cookie="sid",
            path="/app",
            same_site="strict",
            https_only=True,
            domain="example.com",
            max_age=None,
        ),
        base_url="https://testserver",
    )
    cookie = client.post("/update", json={"a": 1}).headers["set-cookie"]
    assert cookie.startswith("sid=")
    assert cookie.split("; ")[1:] == [
        "path=/app",
        "httponly",
        "samesite=strict",
        "secure",
        "domain=example.com",
    ]


def test_partitioned_session_cookie() -> None:
    client = TestClient(
        make_app(https_only=True, same_site="none", partitioned=True),
        base_url="https://testserver",
    )
    plain = TestClient(make_app()).post("/update", json={"a": 1}).headers["set-cookie"]
    assert "partitioned" not in plain.split("; ")
    assert "partitioned" in client.post("/update", json={"a": 1}).headers["set-cookie"].split("; ")
    cleared = client.post("/clear").headers["set-cookie"].split("; ")
    assert "Max-Age=0" in cleared
    assert "partitioned" in cleared  # a partitioned cookie is only removed in its partition


@pytest.mark.parametrize("max_age", [0, -1])
def test_max_age_zero_or_negative_issues_a_cookie_that_is_already_expired(max_age: int) -> None:
    client = TestClient(make_app(max_age=max_age))
    cookie = client.post("/update", json={"a": 1}).headers["set-cookie"]
    assert f"; Max-Age={max_age}; " in cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    # Even replayed by a client that ignores Max-Age, the server refuses it once a second passed.
    stale = TestClient(make_app(max_age=max_age), cookies={"session": value})
    if max_age < 0:
        assert stale.get("/").json() == {}


def test_domain_with_cookie_syntax_is_refused() -> None:
    with pytest.raises(ValueError, match="domain"):
        SessionMiddleware(Recorder(), secret_key="k", domain="example.com; secure=0")


def _cookie_for(app: App) -> str:
    client = TestClient(app)
    header = client.post("/update", json={"user": "ada"}).headers["set-cookie"]
    return header.split(";", 1)[0].split("=", 1)[1]


def _session_with_cookie(app: App, value: str) -> Any:
    response = TestClient(app).get("/", headers={"cookie": f"session={value}"})
    assert response.status_code == 200
    return response.json()


def test_valid_cookie_is_accepted() -> None:
    app = make_app()
    assert _session_with_cookie(app, _cookie_for(app)) == {"user": "ada"}


def test_tampered_cookie_gives_empty_session() -> None:
    app = make_app()
    value = _cookie_for(app)
    payload, stamp, mac = value.split(".")
    forged = base64.b64encode(json.dumps({"user": "admin"}).encode()).decode()
    assert _session_with_cookie(app, f"{forged}.{stamp}.{mac}") == {}
    assert _session_with_cookie(app, f"{payload}.{int(stamp) + 1}.{mac}") == {}


def test_cookie_signed_with_another_key_is_refused() -> None:
    foreign = _cookie_for(make_app(secret_key="other"))
    assert _session_with_cookie(make_app(), foreign) == {}


def test_expired_cookie_is_refused_server_side(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(max_age=60)
    value = _cookie_for(app)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61)
    assert _session_with_cookie(app, value) == {}


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "a.b.c",
        "...",
        "e30.123.!!!",
        "\\" * 4000,
        "x" * 65536,
        "é" * 10,
        '"quoted"',
    ],
)
def test_garbage_cookie_gives_empty_session_fast(value: str) -> None:
    app = make_app()
    started = time.perf_counter()
    response = TestClient(app).get("/", headers={"cookie": f"session={value}".encode()})
    assert response.status_code == 200
    assert response.json() == {}
    assert time.perf_counter() - started < 1.0


def test_signed_but_not_a_dict_gives_empty_session() -> None:
    middleware = SessionMiddleware(Recorder(), secret_key="k")
    payload = base64.b64encode(b"[1, 2]")
    assert middleware.load(middleware.signer.sign(payload)) == {}
    assert middleware.load(middleware.signer.sign(b"!!notbase64")) == {}


def test_itsdangerous_signer_reads_starlette_format() -> None:
    itsdangerous = pytest.importorskip("itsdangerous")
    app = make_app(signer="itsdangerous")
    data = base64.b64encode(json.dumps({"from": "starlette"}).encode())
    starlette_cookie = itsdangerous.TimestampSigner("s3cret").sign(data).decode()
    assert _session_with_cookie(app, starlette_cookie) == {"from": "starlette"}
    assert _session_with_cookie(app, "tampered." + starlette_cookie) == {}


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"secret_key": ""}, "secret_key"),
        ({"secret_key": "k", "same_site": "sideways"}, "same_site"),
        ({"secret_key": "k", "session_cookie": "a;b"}, "session_cookie"),
        ({"secret_key": "k", "signer": "md5"}, "signer"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        SessionMiddleware(Recorder(), **options)


@pytest.mark.anyio
async def test_lifespan_passes_through_and_websocket_gets_session() -> None:
    inner = Recorder()
    middleware = SessionMiddleware(inner, secret_key="k")
    await call(middleware, {"type": "lifespan"})
    await call(middleware, http_scope(kind="websocket"))
    assert inner.scopes[0] == {"type": "lifespan"}
    assert inner.scopes[1]["session"] == {}
