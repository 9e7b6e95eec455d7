"""`asgiforge serve` execs a lean master: same PID, no CLI modules inherited by the workers."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from asgiforge.errors import ServeError
from asgiforge.importer import resolve_target
from asgiforge.server.options import AppTarget, HeadLimits, HTTPOptions
from asgiforge.server.serve import master_exec
from asgiforge.server.serve.options import ServeOptions
from asgiforge.server.sockets import BindAddress, tcp
from tests.server.serve_process import ServeProcess

# Reports what its worker has loaded: forked, a worker holds every module its master had.
PROBE_APP = """
import gc, json, os, sys

CLI_PACKAGES = {"typer", "rich", "pydantic", "shellingham"}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    report = {
        "cli_modules": sorted(
            name for name in sys.modules
            if name.split(".")[0] in CLI_PACKAGES or name.startswith("asgiforge.cli")
        ),
        "argv": sys.argv,
        "path0": sys.path[0],
        "warnoptions": sys.warnoptions,
        "ppid": os.getppid(),
        "frozen": gc.get_freeze_count(),
    }
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(report).encode()})
"""


class Server(ServeProcess):
    """``python [FLAGS] -m asgiforge serve svcapp:app`` (the probe app, one worker, a pid file)."""

    def __init__(self, directory: Path, *python_flags: str) -> None:
        (directory / "svcapp.py").write_text(PROBE_APP)
        self.pid_file = directory / "serve.pid"
        super().__init__(
            directory, "--workers", "1", "--pid", str(self.pid_file), python_flags=python_flags
        )

    def report(self) -> dict[str, Any]:
        self.wait_ready(1)
        status, body = self.get("/")
        assert status == 200, body
        return json.loads(body)  # type: ignore[no-any-return]


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            server.close()


@pytest.mark.slow
def test_workers_inherit_no_cli_modules_from_the_master(
    servers: list[Server], tmp_path: Path
) -> None:
    server = Server(tmp_path)
    servers.append(server)
    report = server.report()
    assert report["cli_modules"] == []
    assert report["frozen"] > 1000  # the master's objects, kept out of the workers' collections
    # The same process as the command that was started: signals and --pid reach the master.
    assert report["ppid"] == server.proc.pid
    assert server.pid_file.read_text().strip() == str(server.proc.pid)
    cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes().split(b"\0")
    if importlib.util.find_spec("setproctitle") is None:
        assert master_exec.MODULE.encode() in cmdline
        assert cmdline[cmdline.index(b"serve") :][:2] == [b"serve", b"svcapp:app"]
    else:  # the exec'd master names itself (tests/server/test_proctitle.py)
        assert b" ".join(cmdline).startswith(b"asgiforge master svcapp:app http://")
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=10) == 0
    assert not server.pid_file.exists()


@pytest.mark.slow
def test_the_app_sees_the_clis_argv_path_and_interpreter_flags(
    servers: list[Server], tmp_path: Path
) -> None:
    server = Server(tmp_path, "-W", "ignore::UserWarning:svcapp")
    servers.append(server)
    report = server.report()
    assert report["argv"][1:3] == ["serve", "svcapp:app"]
    assert report["argv"][0].endswith("__main__.py")  # `python -m asgiforge`'s, as before
    assert report["path0"] == str(tmp_path)  # `-m` put the working directory first
    assert report["warnoptions"] == ["ignore::UserWarning:svcapp"]


def _options(binds: tuple[BindAddress, ...], tmp_path: Path) -> ServeOptions:
    return ServeOptions(
        target=AppTarget("svcapp:app", tmp_path),
        binds=binds,
        http=HTTPOptions(log_level="debug", limits=HeadLimits(max_headers=7)),
        workers=3,
        max_requests=9,
        pid_file=tmp_path / "x.pid",
    )


def test_options_sockets_and_retarget_reach_the_new_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What execv is handed: the payload descriptor, which round-trips the options exactly."""
    (tmp_path / "svcapp.py").write_text("app = None\n")
    path = tmp_path / "s.sock"
    options = _options((BindAddress("unix", path=str(path)), tcp("127.0.0.1", 0)), tmp_path)
    retarget = partial(resolve_target, "svcapp:app", app_dir=tmp_path)
    seen: dict[str, Any] = {}

    def fake_execv(executable: str, argv: list[str]) -> None:
        seen["executable"] = executable
        seen["argv"] = argv
        at = argv.index(master_exec.MODULE)
        seen["payload"] = master_exec.read_payload(os.dup(int(argv[at + 1])))
        seen["inheritable"] = [os.get_inheritable(fd) for fd in seen["payload"][2]]
        raise OSError(8, "Exec format error")

    monkeypatch.setattr(os, "execv", fake_execv)
    with pytest.raises(ServeError, match=r"cannot start the master .*: Exec format error"):
        master_exec.replace_process(options, retarget)
    assert seen["executable"] == sys.executable
    assert seen["argv"][-len(sys.argv) :] == sys.argv
    got, got_retarget, fds, got_path, got_argv = seen["payload"]
    assert got == options
    assert got_retarget is not None and got_retarget() == retarget()
    assert len(fds) == 2 and seen["inheritable"] == [True, True]
    assert (got_path, got_argv) == (sys.path, sys.argv)
    # The exec failed: the sockets bound for it are closed and the unix socket file removed.
    assert not path.exists()
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)


def test_a_port_in_use_is_reported_before_the_exec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    def fail(*args: object) -> None:
        raise AssertionError("must not exec")

    monkeypatch.setattr(os, "execv", fail)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        options = _options((tcp("127.0.0.1", port),), tmp_path)
        with pytest.raises(ServeError, match="address already in use"):
            master_exec.replace_process(options, None)


def test_a_payload_that_is_not_serve_options_is_refused(tmp_path: Path) -> None:
    import pickle

    read_fd, write_fd = os.pipe()
    os.write(write_fd, pickle.dumps(({"workers": 2}, None, [], [], [])))
    os.close(write_fd)
    with pytest.raises(TypeError, match="does not hold serve options"):
        master_exec.read_payload(read_fd)


def test_started_by_hand_without_a_descriptor_it_says_what_it_is() -> None:
    with pytest.raises(SystemExit, match="started by `asgiforge serve`"):
        master_exec.main([])
