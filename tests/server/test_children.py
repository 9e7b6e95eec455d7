"""The child-process toolkit both supervisors use: spawn, reap, stop by deadline.

Each case forks from a fresh interpreter (run to its end, its process group killed), not from
pytest's own process, whose threads would make a fork unsafe.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from tests.harness import run_bounded

PRELUDE = """
import json, os, signal, sys, time
from asgiforge.server import children, pipes
"""


def run_case(body: str) -> dict[str, object]:
    script = PRELUDE + textwrap.dedent(body)
    result = run_bounded([sys.executable, "-c", script], timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.slow
def test_a_spawned_child_reports_on_its_pipe_and_its_status_is_reaped() -> None:
    got = run_case(
        """
        def run(fd):
            os.write(fd, pipes.encode(pipes.READY, b"hello"))
            return 7
        child = children.spawn(run)
        status = children.reap(child.pid, block=True)
        data = b""
        while chunk := os.read(child.fd, 4096):
            data += chunk
        os.close(child.fd)
        messages = [[k.decode(), p.decode()] for k, p in pipes.Decoder().feed(data)]
        print(json.dumps({"code": os.waitstatus_to_exitcode(status), "messages": messages,
                          "again": children.reap(child.pid)}))
        """
    )
    assert got == {"code": 7, "messages": [["R", "hello"]], "again": 0}


@pytest.mark.slow
def test_a_child_that_raises_exits_1_and_never_returns_into_the_parent() -> None:
    got = run_case(
        """
        parent = os.getpid()
        prepared = []
        def run(fd):
            raise RuntimeError("boom")
        child = children.spawn(run, prepare=lambda: prepared.append(1))
        if os.getpid() != parent:
            print("the child came back")
            sys.exit(0)
        status = children.reap(child.pid, block=True)
        os.close(child.fd)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status), "prepared": prepared}))
        """
    )
    assert got == {"code": 1, "prepared": []}  # `prepare` ran in the child only


@pytest.mark.slow
def test_stop_all_waits_for_children_that_obey_and_kills_the_rest_at_the_deadline() -> None:
    got = run_case(
        """
        def obeys(fd):
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            os.write(fd, b"R\\n")
            while True:
                time.sleep(1)
        def ignores(fd):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.write(fd, b"R\\n")
            while True:
                time.sleep(1)
        started = []
        for run in (obeys, ignores):
            child = children.spawn(run)
            os.set_blocking(child.fd, True)
            os.read(child.fd, 2)  # its handler is installed
            os.close(child.fd)
            started.append(child.pid)
        for pid in started:
            children.send(pid, signal.SIGTERM)
        before = time.monotonic()
        children.stop_all(started, before + 1.0)
        took = time.monotonic() - before
        gone = []
        for pid in started:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                gone.append(pid)
        children.send(started[0], signal.SIGTERM)  # a reaped pid needs no signal, no error
        print(json.dumps({"took": took, "all_reaped": gone == started}))
        """
    )
    assert got["all_reaped"] is True
    assert 1.0 <= float(got["took"]) < 5.0  # #2 held out to the deadline, and no longer
