"""Cost of reading proxy headers per request: asgiforge's middleware vs uvicorn's, side by side.

Usage (from the repository root):
    PYTHONPATH=. bench/.venv-anchors/bin/python bench/proxy_headers_cost.py [--n 50000] [--rounds 7]

uvicorn wraps the app in its proxy-headers middleware by default (127.0.0.1 trusted). An
asgiforge worker reads proxy headers in its HTTP protocols, only for a request whose head holds
one (`asgiforge.server.protocols`); its `ProxyHeadersMiddleware` (loopback peers trusted) runs
for WebSocket connections and for anyone using it as ASGI middleware. Each case calls the
middleware N times on a fresh copy of one scope (a browser's eight headers, plus the proxy
headers of the case) with an app that returns at once, driven without an event loop, so the
figure is the middleware's own work in nanoseconds per request, best of the rounds; the rounds
interleave the implementations, so machine noise hits each alike. "bare" is the copy and the
call alone; subtract it. The same header value comes back every call, as it does from one
client behind a proxy: asgiforge's middleware then answers from its per-value cache (a fresh
value costs one parse more).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from uvicorn.middleware.proxy_headers import (  # noqa: E402
    ProxyHeadersMiddleware as UvicornProxyHeaders,
)

from asgiforge.server.proxy_headers import ProxyHeadersMiddleware  # noqa: E402

BROWSER = [
    (b"host", b"shop.example"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"accept-language", b"en-GB,en;q=0.5"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"connection", b"keep-alive"),
    (b"cookie", b"session=abcdef0123456789; theme=dark"),
    (b"upgrade-insecure-requests", b"1"),
]
CASES: dict[str, tuple[tuple[str, int], list[tuple[bytes, bytes]]]] = {
    "untrusted peer": (("203.0.113.9", 5000), []),
    "loopback, no proxy headers": (("127.0.0.1", 5000), []),
    "loopback, X-Forwarded-For/Proto": (
        ("127.0.0.1", 5000),
        [(b"x-forwarded-for", b"198.51.100.7"), (b"x-forwarded-proto", b"https")],
    ),
    "loopback, Forwarded": (
        ("127.0.0.1", 5000),
        [(b"forwarded", b'for="198.51.100.7";proto=https')],
    ),
}


async def app(scope: Any, receive: Any, send: Any) -> None:
    return None


def per_call(middleware: Callable[..., Any], scope: dict[str, Any], n: int) -> float:
    """Nanoseconds per call over `n` calls, each on a fresh shallow copy of `scope`."""
    start = time.perf_counter_ns()
    for _ in range(n):
        coro = middleware(dict(scope), None, None)
        try:
            coro.send(None)
        except StopIteration:
            pass
    return (time.perf_counter_ns() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    implementations = {
        "bare": app,
        "asgiforge": ProxyHeadersMiddleware(app, "127.0.0.1,::1"),
        "uvicorn": UvicornProxyHeaders(app, "127.0.0.1"),
    }
    print(f"{'case':36} " + " ".join(f"{name:>10}" for name in implementations) + "   (ns/req)")
    for case, (client, extra) in CASES.items():
        scope = {"type": "http", "scheme": "http", "client": client, "headers": BROWSER + extra}
        best = dict.fromkeys(implementations, float("inf"))
        for _ in range(args.rounds):
            for name, middleware in implementations.items():
                best[name] = min(best[name], per_call(middleware, scope, args.n))
        print(f"{case:36} " + " ".join(f"{best[name]:10.0f}" for name in implementations))


if __name__ == "__main__":
    main()
