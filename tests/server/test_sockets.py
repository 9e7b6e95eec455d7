"""Binding: `--bind` parsing and the errors a user sees before any worker starts."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from asgiforge.errors import ServeError, UsageError
from asgiforge.server.sockets import (
    BindAddress,
    bind,
    bind_all,
    close_all,
    describe,
    listen_addresses,
    parse_bind,
    parse_fd,
    tcp,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8000", BindAddress("tcp", host="127.0.0.1", port=8000)),
        ("localhost:0", BindAddress("tcp", host="localhost", port=0)),
        (":9000", BindAddress("tcp", host="0.0.0.0", port=9000)),
        ("[::1]:8080", BindAddress("tcp", host="::1", port=8080)),
        ("unix:/tmp/app.sock", BindAddress("unix", path="/tmp/app.sock")),
        ("fd://3", BindAddress("fd", fd=3)),
    ],
)
def test_parse_bind(text: str, expected: BindAddress) -> None:
    assert parse_bind(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8000", "expected host:port"),
        ("host:http", "port must be a number"),
        ("host:70000", "between 0 and 65535"),
        ("::1:8000", "IPv6 addresses as [addr]:port"),
        ("[::1]8000", "expected [ipv6]:port"),
        ("unix:", "unix:/path"),
        ("fd://x", "fd://N"),
    ],
)
def test_parse_bind_errors_name_the_value(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_bind(text)


def test_str_round_trips_for_logs() -> None:
    assert str(parse_bind("[::1]:80")) == "[::1]:80"
    assert str(parse_bind("unix:/x.sock")) == "unix:/x.sock"
    assert str(parse_fd(4)) == "fd://4"
    with pytest.raises(UsageError):
        parse_fd(-1)


def test_port_in_use_is_a_serve_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError) as info:
            bind(tcp("127.0.0.1", port))
    assert str(info.value) == f"cannot listen on 127.0.0.1:{port}: address already in use"


def test_bind_all_closes_what_it_opened_when_one_fails(tmp_path: Path) -> None:
    path = tmp_path / "a.sock"
    with pytest.raises(ServeError, match="not a socket"):
        bind_all((BindAddress("unix", path=str(path)), BindAddress("unix", path=str(tmp_path))))
    # The first socket was closed (and its file removed), so binding it again works.
    socks = bind_all((BindAddress("unix", path=str(path)),))
    close_all(socks)
    assert not path.exists()


def test_tcp_port_zero_gets_a_real_port_and_a_label() -> None:
    (sock,) = bind_all((tcp("127.0.0.1", 0),))
    try:
        port = sock.getsockname()[1]
        assert port > 0
        assert describe(sock) == f"http://127.0.0.1:{port}"
        assert describe(sock, tls=True).startswith("https://")
        client = socket.create_connection(("127.0.0.1", port), timeout=2)
        client.close()
    finally:
        close_all([sock])


def test_stale_unix_socket_is_replaced_but_a_live_one_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays behind, nobody listens: like a crashed server
    live = bind(BindAddress("unix", path=path))
    try:
        assert describe(live) == f"unix:{path}"
        with pytest.raises(ServeError, match="address already in use"):
            bind(BindAddress("unix", path=path))
    finally:
        close_all([live])


def test_inherited_fd_is_adopted() -> None:
    original = socket.socket()
    original.bind(("127.0.0.1", 0))
    port = original.getsockname()[1]
    sock = bind(parse_fd(original.detach()))
    try:
        client = socket.create_connection(("127.0.0.1", port), timeout=2)
        client.close()
    finally:
        sock.close()


def test_fd_that_is_not_a_socket_is_a_serve_error(tmp_path: Path) -> None:
    with (tmp_path / "f").open("w") as fh, pytest.raises(ServeError, match="fd://"):
        bind(parse_fd(fh.fileno()))


def test_listen_addresses_default_and_explicit() -> None:
    assert listen_addresses(None, None) == (BindAddress("tcp", host="0.0.0.0", port=8000),)
    assert listen_addresses(None, None, ["unix:/tmp/s"], [3]) == (
        BindAddress("unix", path="/tmp/s"),
        BindAddress("fd", fd=3),
    )
    # --host or --port next to --bind: the TCP address is served too, first.
    assert listen_addresses("127.0.0.1", None, ["unix:/tmp/s"])[0] == tcp("127.0.0.1", 8000)
