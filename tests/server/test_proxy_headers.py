"""The proxy-headers middleware: whom it believes, how it reads `Forwarded` and `X-Forwarded-*`,
and that nothing a client sends can make it fail or speak for a trusted proxy."""

from __future__ import annotations

import http.client
import os
import random
import re
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from asgiforge.errors import UsageError
from asgiforge.runtime.requests import Request
from asgiforge.server.options import HTTPOptions
from asgiforge.server.proxy_headers import (
    ProxyHeaders,
    ProxyHeadersMiddleware,
    TrustedProxies,
    parse_node,
)
from tests.harness import run_bounded
from tests.server.serve_process import ServeProcess
from tests.servers import serve_in_thread

PROXY = ("127.0.0.1", 40000)
OUTSIDER = ("203.0.113.9", 40000)


def served(
    headers: list[tuple[str, str]],
    client: tuple[str, int] | None = PROXY,
    trusted: str = "127.0.0.1,::1",
    kind: str = "http",
    forwarded_host: bool = False,
) -> dict[str, Any]:
    """The scope the app receives for one request through the middleware.

    The inner app never awaits, so one `send(None)` runs the whole call without an event loop.
    """
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "client": client,
        "server": ("10.0.0.5", 8000),
        "path": "/",
        "headers": [(name.lower().encode(), value.encode("latin-1")) for name, value in headers]
        or [(b"host", b"app.internal:8000")],
    }
    middleware = ProxyHeadersMiddleware(app, trusted, forwarded_host=forwarded_host)
    with pytest.raises(StopIteration):
        middleware(scope, None, None).send(None)  # type: ignore[arg-type]
    return seen


def test_a_trusted_peer_sets_client_and_scheme_with_x_forwarded() -> None:
    scope = served([("X-Forwarded-For", "198.51.100.7"), ("X-Forwarded-Proto", "https")])
    assert scope["client"] == ("198.51.100.7", 0)
    assert scope["scheme"] == "https"


def test_an_untrusted_peer_cannot_spoof_anything() -> None:
    headers = [
        ("X-Forwarded-For", "198.51.100.7"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "for=198.51.100.7;proto=https;host=evil.example"),
    ]
    scope = served(headers, client=OUTSIDER, forwarded_host=True)
    assert scope["client"] == OUTSIDER
    assert scope["scheme"] == "http"
    assert (b"host", b"evil.example") not in scope["headers"]


def test_the_client_is_the_rightmost_untrusted_hop() -> None:
    # The client wrote "6.6.6.6" itself; the edge proxy appended the address it saw.
    chain = "6.6.6.6, 198.51.100.7, 10.1.2.3, 127.0.0.1"
    scope = served([("X-Forwarded-For", chain)], trusted="127.0.0.1,10.0.0.0/8")
    assert scope["client"] == ("198.51.100.7", 0)
    # The same hops over two header lines.
    lines = [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7, 10.1.2.3")]
    assert served(lines, trusted="127.0.0.1,10.0.0.0/8")["client"] == ("198.51.100.7", 0)


def test_when_every_hop_is_trusted_the_leftmost_is_the_client() -> None:
    scope = served([("X-Forwarded-For", "10.9.9.9, 10.1.2.3")], trusted="127.0.0.1,10.0.0.0/8")
    assert scope["client"] == ("10.9.9.9", 0)
    # "*" trusts every hop: the original client as the first proxy recorded it.
    assert served([("X-Forwarded-For", "198.51.100.7, 10.1.2.3")], trusted="*")["client"] == (
        "198.51.100.7",
        0,
    )


def test_forwarded_header_elements_quoting_and_ipv6() -> None:
    value = 'for=6.6.6.6, for="[2001:db8::17]:4711";proto=HTTPS;by=_edge, for=127.0.0.1'
    scope = served([("Forwarded", value)])
    assert scope["client"] == ("2001:db8::17", 4711)
    assert scope["scheme"] == "https"
    assert served([("Forwarded", 'For="192.0.2.60:8080"')])["client"] == ("192.0.2.60", 8080)
    assert served([("Forwarded", "proto=https")])["scheme"] == "https"


def test_forwarded_obfuscated_and_unknown_nodes_are_the_client() -> None:
    assert served([("Forwarded", "for=unknown;proto=https")])["client"] == ("unknown", 0)
    assert served([("Forwarded", 'for="_hidden:_port"')])["client"] == ("_hidden", 0)
    # An obfuscated hop is never a trusted proxy, even under "*".
    scope = served([("Forwarded", "for=6.6.6.6, for=_edge;proto=https")], trusted="*")
    assert scope["client"] == ("_edge", 0) and scope["scheme"] == "https"


def test_x_forwarded_wins_per_field_over_forwarded() -> None:
    # nginx sets X-Forwarded-For and passes a client's own Forwarded header through.
    headers = [("Forwarded", "for=6.6.6.6;proto=https"), ("X-Forwarded-For", "198.51.100.7")]
    scope = served(headers)
    assert scope["client"] == ("198.51.100.7", 0)
    assert scope["scheme"] == "https"  # no X-Forwarded-Proto: Forwarded's proto is used
    headers.append(("X-Forwarded-Proto", "http"))
    assert served(headers)["scheme"] == "http"


def test_websocket_schemes() -> None:
    assert served([("X-Forwarded-Proto", "https")], kind="websocket")["scheme"] == "wss"
    assert served([("Forwarded", "proto=wss")], kind="websocket")["scheme"] == "wss"
    assert served([("X-Forwarded-Proto", "wss")])["scheme"] == "https"


def test_the_nearest_proxys_proto_counts() -> None:
    assert served([("X-Forwarded-Proto", "http, https")])["scheme"] == "https"
    assert served([("X-Forwarded-Proto", "gopher")])["scheme"] == "http"


MALFORMED_FORWARDED = [
    "for",
    "for=",
    'for="6.6.6.6',
    'for="[::1"',
    "for=[::1",
    "for=6.6.6.6:99999",
    "for=6.6.6.6:x",
    "for=evil.example",
    "for=1.2.3.4;for=5.6.7.8",
    "f o r=1.2.3.4",
    "for=\x00",
    'for="6.6.6.6\\"',
    "for=[1.2.3.4]",
    "proto=https;=x",
]


@pytest.mark.parametrize("value", MALFORMED_FORWARDED)
def test_a_malformed_forwarded_header_changes_nothing(value: str) -> None:
    scope = served([("Forwarded", value)])
    assert scope["client"] == PROXY
    assert scope["scheme"] == "http"


def test_a_clients_malformed_part_does_not_hide_what_a_proxy_appended() -> None:
    assert served([("Forwarded", 'for="oops, for=198.51.100.7')])["client"] == (
        "198.51.100.7",
        0,
    )
    assert served([("X-Forwarded-For", "not-an-ip, 198.51.100.7")])["client"] == (
        "198.51.100.7",
        0,
    )
    assert served([("X-Forwarded-For", "198.51.100.7, garbage")])["client"] == PROXY


def test_forwarded_host_is_opt_in_and_validated() -> None:
    headers = [("Host", "app.internal:8000"), ("X-Forwarded-Host", "shop.example")]
    assert served(headers)["headers"][0] == (b"host", b"app.internal:8000")
    scope = served([*headers, ("X-Forwarded-Proto", "https")], forwarded_host=True)
    assert (b"host", b"shop.example") in scope["headers"]
    assert (b"host", b"app.internal:8000") not in scope["headers"]
    assert scope["server"] == ("shop.example", 443)
    url = Request(scope).url
    assert str(url) == "https://shop.example/"
    scope = served([("Forwarded", 'host="[::1]:8443"')], forwarded_host=True)
    assert scope["server"] == ("::1", 8443)
    hostile = [("Host", "app.internal"), ("X-Forwarded-Host", "evil.example/admin?")]
    scope = served(hostile, forwarded_host=True)
    assert scope["headers"][0] == (b"host", b"app.internal")
    assert scope["server"] == ("10.0.0.5", 8000)


def test_ipv4_mapped_and_network_peers() -> None:
    assert served([("X-Forwarded-For", "198.51.100.7")], client=("::ffff:127.0.0.1", 1))[
        "client"
    ] == ("198.51.100.7", 0)
    scope = served(
        [("X-Forwarded-For", "198.51.100.7")], client=("10.3.4.5", 1), trusted="10.0.0.0/8"
    )
    assert scope["client"] == ("198.51.100.7", 0)
    assert served([("X-Forwarded-For", "198.51.100.7")], client=("::1", 1))["client"][0] == (
        "198.51.100.7"
    )


def test_a_unix_socket_peer_is_local() -> None:
    assert served([("X-Forwarded-Proto", "https")], client=None)["scheme"] == "https"


def test_lifespan_and_other_scopes_pass_untouched() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {"type": "lifespan", "headers": [(b"x-forwarded-proto", b"https")]}
    with pytest.raises(StopIteration):
        ProxyHeadersMiddleware(app)(scope, None, None).send(None)  # type: ignore[arg-type]
    assert seen == [{"type": "lifespan", "headers": [(b"x-forwarded-proto", b"https")]}]


def test_random_bytes_never_raise() -> None:
    rng = random.Random(15)
    alphabet = 'for=proto=host=_unknown[]:;,"\\ 0123456789abcdef.:\x00\xff'
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        name = rng.choice(["Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"])
        scope = served([(name, value)], trusted="*", forwarded_host=True)
        client = scope["client"]
        assert isinstance(client[0], str) and isinstance(client[1], int)
        assert scope["scheme"] in ("http", "https")


def test_parse_node() -> None:
    assert parse_node("[::1]:80") == ("::1", 80)
    assert parse_node("::1") == ("::1", 0)
    assert parse_node("192.0.2.1:443") == ("192.0.2.1", 443)
    assert parse_node("UNKNOWN") == ("unknown", 0)
    assert parse_node("::ffff:192.0.2.1") == ("192.0.2.1", 0)
    for bad in ("", "[::1]x", "example.com", "192.0.2.1:", "[192.0.2.1]", "_", "1.2.3.4:65536"):
        assert parse_node(bad) is None, bad


def test_trusted_proxies_cache_stays_bounded() -> None:
    trusted = TrustedProxies("10.0.0.0/8")
    for n in range(5000):
        assert f"192.0.{n // 256 % 256}.{n % 256}" not in trusted
    assert "10.200.0.1" in trusted
    assert len(trusted._known) <= 1024


def test_options_defaults_and_validation() -> None:
    assert HTTPOptions().trusted_proxies == "127.0.0.1,::1"
    assert HTTPOptions(forwarded_allow_ips="10.0.0.1").trusted_proxies == "10.0.0.1"
    assert HTTPOptions(proxy_headers=True).trusted_proxies == "127.0.0.1,::1"
    assert HTTPOptions(proxy_headers=False, forwarded_allow_ips="*").trusted_proxies is None
    assert HTTPOptions(forwarded_allow_ips=" , ").trusted_proxies is None
    assert HTTPOptions().uvicorn_kwargs()["proxy_headers"] is False
    HTTPOptions(forwarded_allow_ips="10.0.0.1, 192.168.0.0/16, ::1, fd00::/8, *")
    with pytest.raises(UsageError, match=r"^--forwarded-allow-ips: 'proxy\.local' is not an IP"):
        HTTPOptions(forwarded_allow_ips="10.0.0.1,proxy.local")
    with pytest.raises(UsageError, match="has host bits set"):
        HTTPOptions(forwarded_allow_ips="10.0.0.1/8")


async def scope_echo(scope: Any, receive: Any, send: Any) -> None:
    """Answers with the client and scheme it was given: over HTTP as the body, over a
    WebSocket as one text message."""
    if scope["type"] == "lifespan":
        return
    client = scope["client"][0] if scope.get("client") else None
    said = f"{client} {scope['scheme']}".encode()
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": said.decode()})
        await send({"type": "websocket.close"})
        return
    length = str(len(said)).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
    )
    await send({"type": "http.response.body", "body": said})


def http_get(address: str, *heads: bytes) -> list[bytes]:
    """Send `heads` (pipelined, one write) on one raw connection; the response bodies."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"".join(heads))
        received = b""
        bodies: list[bytes] = []
        while len(bodies) < len(heads):
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {bodies}"
            received += chunk
            while b"\r\n\r\n" in received:
                head, _, rest = received.partition(b"\r\n\r\n")
                match = re.search(rb"(?i)content-length: *(\d+)", head)
                assert match is not None, head
                size = int(match.group(1))
                if len(rest) < size:
                    break
                bodies.append(rest[:size])
                received = rest[size:]
    return bodies


def head(*headers: str, path: str = "/") -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: app.example", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_the_served_http_protocols_rewrite_a_trusted_proxys_requests(http: str) -> None:
    """Under the real protocols (what `serve` and `dev` hand uvicorn): a request whose head holds
    proxy headers is rewritten from a trusted peer, one without is left alone, and a pipelined
    request behind the first gets its own reading."""
    forwarded = head("X-Forwarded-For: 198.51.100.7", "X-Forwarded-Proto: https")
    standard = head('Forwarded: for="[2001:db8::9]";proto=https')
    with serve_in_thread(scope_echo, **HTTPOptions(http=http).uvicorn_kwargs()) as (_, address):
        assert http_get(address, head()) == [b"127.0.0.1 http"]
        assert http_get(address, forwarded) == [b"198.51.100.7 https"]
        assert http_get(address, forwarded, head(), standard) == [
            b"198.51.100.7 https",
            b"127.0.0.1 http",
            b"2001:db8::9 https",
        ]
    # Another proxy named: the loopback peer is no longer believed.
    options = HTTPOptions(http=http, forwarded_allow_ips="10.0.0.1")
    with serve_in_thread(scope_echo, **options.uvicorn_kwargs()) as (_, address):
        assert http_get(address, forwarded) == [b"127.0.0.1 http"]
    with serve_in_thread(
        scope_echo, **HTTPOptions(http=http, proxy_headers=False).uvicorn_kwargs()
    ) as (_, address):
        assert http_get(address, forwarded) == [b"127.0.0.1 http"]


@pytest.mark.parametrize("ws", ["websockets-sansio", "wsproto"])
def test_a_served_websocket_behind_a_trusted_proxy_sees_wss_and_the_client(ws: str) -> None:
    if ws == "websockets-sansio":
        pytest.importorskip("websockets.server")
    else:
        pytest.importorskip("wsproto")
    options = HTTPOptions(ws=ws)
    if isinstance(options.uvicorn_kwargs()["ws"], str):
        pytest.skip(f"this uvicorn has no {ws} protocol")
    handshake = head(
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        "X-Forwarded-For: 198.51.100.7",
        "X-Forwarded-Proto: https",
    )
    with serve_in_thread(scope_echo, **options.uvicorn_kwargs()) as (_, address):
        host, port = address.split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(handshake)
            received = b""
            while b"198.51.100.7" not in received and len(received) < 4096:
                chunk = sock.recv(4096)
                assert chunk, received
                received += chunk
    assert received.startswith(b"HTTP/1.1 101"), received
    assert b"198.51.100.7 wss" in received


def test_dev_hands_uvicorn_the_app_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxy headers are read by the protocols, so uvicorn sees the user's app (and adapts an
    ASGI 2 one itself); its own proxy-header reading stays off."""
    from asgiforge.server import _logging
    from asgiforge.server.dev.options import DevOptions
    from asgiforge.server.dev.worker import make_server
    from asgiforge.server.options import AppTarget

    def asgi2(scope: Any) -> Any:
        async def instance(receive: Any, send: Any) -> None:
            pass

        return instance

    monkeypatch.setattr(_logging, "hush_uvicorn_startup", lambda: None)
    options = DevOptions(AppTarget("main:app", tmp_path), port=8000)
    server = make_server(asgi2, options, lambda: None)
    assert server.config.app is asgi2
    assert server.config.proxy_headers is False  # uvicorn's own reading is off
    proxies = server.config.http.proxies
    assert isinstance(proxies, ProxyHeaders) and "127.0.0.1" in proxies.trusted
    server.config.load()
    assert type(server.config.loaded_app).__name__ == "ASGI2Middleware"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scaffolded `full` project, as `asgiforge new` writes it, served as `svcapp:app`."""
    root = tmp_path_factory.mktemp("proxied")
    made = run_bounded(
        [sys.executable, "-m", "asgiforge", "new", "shop", "-t", "full", "--no-input"],
        cwd=root,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    project = root / "shop"
    (project / "svcapp.py").write_text("from shop.app import app\n")
    return project


def stylesheet(server: ServeProcess, headers: dict[str, str]) -> str:
    """The href of the home page's stylesheet link, fetched from 127.0.0.1 with `headers`."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/", headers=headers)
        response = conn.getresponse()
        page = response.read().decode()
    finally:
        conn.close()
    assert response.status == 200, page[:300]
    match = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert match is not None, page[:300]
    return match.group(1)


@pytest.mark.slow
def test_a_served_full_project_behind_a_local_tls_proxy_links_https(shop: Path) -> None:
    default = ServeProcess(shop, "--workers", "1")
    elsewhere = ServeProcess(shop, "--workers", "1", "--forwarded-allow-ips", "10.0.0.1")
    try:
        default.wait_ready(1, timeout=30)
        elsewhere.wait_ready(1, timeout=30)
        origin = f"127.0.0.1:{default.port}"
        assert stylesheet(default, {}) == f"http://{origin}/static/style.css"
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        assert stylesheet(default, proxied) == f"https://{origin}/static/style.css"
        standard = {"Forwarded": "proto=https"}
        assert stylesheet(default, standard) == f"https://{origin}/static/style.css"
        # Naming another proxy stops trusting the loopback peer.
        origin = f"127.0.0.1:{elsewhere.port}"
        assert stylesheet(elsewhere, proxied) == f"http://{origin}/static/style.css"
        assert stylesheet(elsewhere, standard) == f"http://{origin}/static/style.css"
    finally:
        default.close()
        elsewhere.close()


@pytest.mark.slow
def test_no_proxy_headers_and_a_bad_trusted_list(shop: Path) -> None:
    off = ServeProcess(shop, "--workers", "1", "--no-proxy-headers")
    try:
        off.wait_ready(1, timeout=30)
        href = stylesheet(off, {"X-Forwarded-Proto": "https"})
        assert href == f"http://127.0.0.1:{off.port}/static/style.css"
    finally:
        off.close()
    bad = run_bounded(
        [
            sys.executable,
            "-m",
            "asgiforge",
            "serve",
            "svcapp:app",
            "--forwarded-allow-ips",
            "proxy",
        ],
        timeout=30,
        cwd=shop,
    )
    assert bad.returncode != 0
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "--forwarded-allow-ips: 'proxy' is not an IP address" in lines[0]


@pytest.mark.slow
def test_the_generated_image_and_manifest_trust_the_private_networks_proxies_use(
    shop: Path,
) -> None:
    dockerfile = (shop / "Dockerfile").read_text()
    manifest = (shop / "k8s" / "deployment.yaml").read_text()
    image = re.search(r'^ENV FORWARDED_ALLOW_IPS="([^"]+)"$', dockerfile, re.MULTILINE)
    pod = re.search(r'- name: FORWARDED_ALLOW_IPS\n\s+value: "([^"]+)"', manifest)
    assert image is not None and pod is not None
    assert image.group(1) == pod.group(1)
    options = HTTPOptions(forwarded_allow_ips=pod.group(1))  # valid: no UsageError
    trusted = TrustedProxies(options.trusted_proxies or "")
    for ingress in ("10.244.1.7", "172.17.0.1", "192.168.49.2", "127.0.0.1", "fd12::5"):
        assert ingress in trusted
    for internet in ("203.0.113.9", "8.8.8.8", "2001:db8::1"):
        assert internet not in trusted
    # The variable the generated Dockerfile and k8s manifest set is read, and checked alike.
    from_env = run_bounded(
        [sys.executable, "-m", "asgiforge", "serve", "svcapp:app", "--check-config"],
        timeout=60,
        cwd=shop,
        env={**os.environ, "FORWARDED_ALLOW_IPS": "10.0.0.0/8,proxy"},
    )
    assert from_env.returncode != 0
    lines = from_env.stderr.strip().splitlines()
    assert len(lines) == 1 and "FORWARDED_ALLOW_IPS" in lines[0] and "'proxy'" in lines[0]
