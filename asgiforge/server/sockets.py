"""Listening sockets for `asgiforge serve`: parsed from the CLI, bound once in the master.

The master binds every address before any worker exists, so a port in use is a one-line error
at start-up instead of N crashing workers, and every worker (forked) shares the very same
listening sockets: the kernel's accept queue outlives any single worker, which is what lets a
worker be replaced or drained without refusing a single connection.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from asgiforge.errors import ServeError, UsageError

BACKLOG = 2048
# Where `serve` listens when given no address at all (a container's published port).
DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 8000


@dataclass(frozen=True, slots=True)
class BindAddress:
    """One place to listen: a TCP host/port, a unix socket path, or an inherited descriptor."""

    kind: Literal["tcp", "unix", "fd"]
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        if self.kind == "fd":
            return f"fd://{self.fd}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def tcp(host: str, port: int) -> BindAddress:
    """A TCP address, checked so a typo fails at parse time with the value in the message."""
    if not 0 <= port <= 65535:
        raise UsageError(f"invalid port {port}: must be between 0 and 65535")
    return BindAddress("tcp", host=host, port=port)


def listen_addresses(
    host: str | None, port: int | None, binds: Sequence[str] = (), fds: Sequence[int] = ()
) -> tuple[BindAddress, ...]:
    """`serve`'s addresses: every ``--bind`` and ``--fd``, plus ``--host``/``--port`` when given.

    With none of them, ``DEFAULT_HOST:DEFAULT_PORT``; a lone ``--host`` or ``--port`` fills the
    other half from those defaults.
    """
    addresses = [parse_bind(value) for value in binds]
    addresses += [parse_fd(value) for value in fds]
    if not addresses or host is not None or port is not None:
        addresses.insert(0, tcp(host or DEFAULT_HOST, DEFAULT_PORT if port is None else port))
    return tuple(addresses)


def parse_bind(value: str) -> BindAddress:
    """Parse one `--bind` value: ``host:port``, ``[v6]:port``, ``unix:/path`` or ``fd://N``."""
    text = value.strip()
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path:
            raise UsageError(f"invalid --bind {value!r}: expected unix:/path/to/socket")
        return BindAddress("unix", path=path)
    if text.startswith("fd://"):
        return BindAddress("fd", fd=_parse_fd(text[len("fd://") :], value))
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise UsageError(f"invalid --bind {value!r}: expected [ipv6]:port")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise UsageError(f"invalid --bind {value!r}: expected host:port or unix:/path")
        if ":" in host:
            raise UsageError(f"invalid --bind {value!r}: write IPv6 addresses as [addr]:port")
    if not port_text.isdigit():
        raise UsageError(f"invalid --bind {value!r}: port must be a number")
    return tcp(host or "0.0.0.0", int(port_text))


def parse_fd(value: int) -> BindAddress:
    """An inherited listening descriptor (`--fd`, systemd socket activation)."""
    if value < 0:
        raise UsageError(f"invalid --fd {value}: must be a non-negative descriptor number")
    return BindAddress("fd", fd=value)


def _parse_fd(text: str, original: str) -> int:
    if not text.isdigit():
        raise UsageError(f"invalid --bind {original!r}: expected fd://N")
    return int(text)


def bind(address: BindAddress, backlog: int = BACKLOG) -> socket.socket:
    """Open and listen on one address, or raise `ServeError` naming it and the reason."""
    try:
        if address.kind == "fd":
            return _adopt_fd(address.fd, backlog)
        if address.kind == "unix":
            return _bind_unix(address.path, backlog)
        return _bind_tcp(address.host, address.port, backlog)
    except OSError as exc:
        reason = (
            "address already in use"
            if exc.errno == errno.EADDRINUSE
            else (exc.strerror or str(exc)).lower()
        )
        raise ServeError(f"cannot listen on {address}: {reason}") from None


def bind_all(addresses: tuple[BindAddress, ...], backlog: int = BACKLOG) -> list[socket.socket]:
    """Bind every address, closing those already opened if a later one fails."""
    sockets: list[socket.socket] = []
    try:
        for address in addresses:
            sockets.append(bind(address, backlog))
    except BaseException:
        close_all(sockets)
        raise
    return sockets


def close_all(sockets: list[socket.socket]) -> None:
    """Close listeners, removing unix socket files we created so a restart can bind again."""
    for sock in sockets:
        path = ""
        if sock.family == socket.AF_UNIX:
            with contextlib.suppress(OSError):
                name = sock.getsockname()
                path = name if isinstance(name, str) else ""
        sock.close()
        if path:
            with contextlib.suppress(OSError):
                os.unlink(path)


def describe(sock: socket.socket, tls: bool = False) -> str:
    """A URL-ish label for logs, with the real port when 0 was asked for."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name}"
    host, port = name[0], name[1]
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _bind_tcp(host: str, port: int, backlog: int) -> socket.socket:
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, socktype, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, socktype, proto)
    with _closed_on_error(sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        _listen(sock, sockaddr, backlog)
    return sock


def _bind_unix(path: str, backlog: int) -> socket.socket:
    _remove_stale_unix_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with _closed_on_error(sock):
        _listen(sock, path, backlog)
    return sock


def _listen(sock: socket.socket, sockaddr: Any, backlog: int) -> None:
    """Bind and listen, non-blocking: the workers' event loops accept, never this process."""
    sock.bind(sockaddr)
    sock.listen(backlog)
    sock.setblocking(False)


@contextlib.contextmanager
def _closed_on_error(sock: socket.socket) -> Iterator[None]:
    """Close `sock` if setting it up fails, so a failed bind leaks no descriptor."""
    try:
        yield
    except BaseException:
        sock.close()
        raise


def _remove_stale_unix_socket(path: str) -> None:
    """Unlink a socket file left by a dead server; refuse to touch a live one or a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, "path exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)
        return
    except OSError:
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, "address already in use")


def _adopt_fd(fd: int, backlog: int) -> socket.socket:
    sock = socket.socket(fileno=fd)
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise OSError(errno.ENOTSOCK, f"descriptor {fd} is not a stream socket")
    sock.listen(backlog)
    sock.setblocking(False)
    return sock
