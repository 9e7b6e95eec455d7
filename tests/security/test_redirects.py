"""Redirects never send a client to a host taken from a hostile Host header, and never emit a
protocol-relative (`//host`) Location."""

from __future__ import annotations

import pytest

from tests.security.conftest import Server, get

HOSTS = ["testserver", "evil.example", "testserver:8443"]


def _location(server: Server, path: str, host: str = "testserver") -> tuple[int | None, str]:
    reply = server.send(get(path, host=host))
    return reply.status, reply.header("location") or ""


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example/slashdir",
        "///evil.example/slashdir",
        "/%2F%2Fevil.example/slashdir",
        "/\\evil.example/slashdir",
        "//evil.example/x/slashdir",
    ],
)
def test_slash_redirect_is_never_protocol_relative(server: Server, path: str) -> None:
    status, location = _location(server, path)
    if status == 307:
        assert location.startswith("/") and not location.startswith("//"), location
        assert not location.startswith("/\\")
    else:
        assert status in (400, 404), (status, location)


def test_slash_redirect_keeps_the_path_and_query(server: Server) -> None:
    status, location = _location(server, "/a/slashdir?x=1")
    assert (status, location) == (307, "/a/slashdir/?x=1")


@pytest.mark.parametrize("host", HOSTS)
def test_static_directory_redirect_is_relative(server: Server, host: str) -> None:
    status, location = _location(server, "/static/sub", host=host)
    assert status == 307
    assert location == "/static/sub/"


def test_static_directory_redirect_with_a_double_slash_path(server: Server) -> None:
    status, location = _location(server, "/static//sub")
    assert status in (307, 404)
    assert not location.startswith("//")


@pytest.mark.parametrize("host", ["testserver", "testserver:8080", "evil.example"])
def test_https_redirect_uses_only_a_validated_host(server: Server, host: str) -> None:
    status, location = _location(server, "/secure/page?q=1", host=host)
    assert status == 307
    assert location == f"https://{host}/secure/page?q=1"


@pytest.mark.parametrize(
    "host", ["evil.example/x", "@evil.example", "testserver@evil.example", "a b", "x\\y"]
)
def test_https_redirect_never_sees_a_hostile_host(server: Server, host: str) -> None:
    status, location = _location(server, "/secure/page", host=host)
    assert status == 400 and location == ""


def test_https_redirect_of_a_double_slash_path(server: Server) -> None:
    status, location = _location(server, "/secure//evil.example/x")
    assert status == 307
    assert location.startswith("https://testserver/"), location
