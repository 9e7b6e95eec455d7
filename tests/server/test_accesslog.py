"""The JSON access log: the wrapper message by message, the options, and a real `serve` process."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asgiforge.errors import UsageError
from asgiforge.runtime.types import Message, Receive, Scope, Send
from asgiforge.server import accesslog
from asgiforge.server.options import HTTPOptions
from tests.harness import free_port, wait_until


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


@pytest.fixture
def logged() -> Iterator[list[dict[str, Any]]]:
    logger = logging.getLogger(accesslog.LOGGER)
    handler = Lines()
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler.lines
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


def scope(headers: tuple[tuple[bytes, bytes], ...] = (), **extra: Any) -> Scope:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/items",
        "root_path": "",
        "query_string": b"",
        "headers": list(headers),
        "client": ("10.0.0.7", 51234),
        **extra,
    }


async def drive(app: Any, request: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(request, receive, send)
    return sent


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
    await send({"type": "http.response.body", "body": b"world"})


def test_request_id_keeps_a_sane_token_and_replaces_anything_else() -> None:
    assert accesslog.request_id([(b"x-request-id", b"abc-123_ok.=")]) == b"abc-123_ok.="
    for bad in (b"", b"has space", b"x" * 129, b"<script>", "é".encode()):
        fresh = accesslog.request_id([(b"x-request-id", bad)])
        assert re.fullmatch(rb"[0-9a-f]{32}", fresh), bad
    assert accesslog.request_id([]) != accesslog.request_id([])


@pytest.mark.anyio
async def test_one_json_line_per_request_and_the_id_echoed(
    logged: list[dict[str, Any]],
) -> None:
    app = accesslog.JsonAccessLog(hello)
    sent = await drive(app, scope(((b"x-request-id", b"req-42"),), query_string=b"a=1&b=%20"))
    assert (b"x-request-id", b"req-42") in sent[0]["headers"]
    (line,) = logged
    assert line.pop("duration_ms") >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.pop("time"))
    assert line == {
        "method": "POST",
        "path": "/items",
        "query": "a=1&b=%20",
        "status": 201,
        "bytes": 11,
        "client": "10.0.0.7:51234",
        "http_version": "1.1",
        "request_id": "req-42",
    }


@pytest.mark.anyio
async def test_an_id_the_app_set_is_not_doubled_and_no_query_no_client(
    logged: list[dict[str, Any]],
) -> None:
    async def own_id(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"X-Request-ID", b"app-chosen")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    sent = await drive(accesslog.JsonAccessLog(own_id), scope(client=None))
    assert sent[0]["headers"] == [(b"X-Request-ID", b"app-chosen")]
    (line,) = logged
    assert "query" not in line
    assert line["client"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])


@pytest.mark.anyio
async def test_an_app_that_raises_before_responding_is_logged_as_500(
    logged: list[dict[str, Any]],
) -> None:
    async def boom(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await drive(accesslog.JsonAccessLog(boom), scope())
    assert [(line["status"], line["bytes"]) for line in logged] == [(500, 0)]


@pytest.mark.anyio
async def test_other_scopes_pass_through_unlogged(logged: list[dict[str, Any]]) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    await drive(accesslog.JsonAccessLog(app), {"type": "lifespan"})
    await drive(accesslog.JsonAccessLog(app), {"type": "websocket", "headers": []})
    assert seen == ["lifespan", "websocket"]
    assert logged == []


def test_the_format_is_validated_and_only_json_wraps_the_app() -> None:
    with pytest.raises(UsageError, match=r"--access-log-format must be one of text, json"):
        HTTPOptions(access_log_format="xml")
    assert HTTPOptions().access_log_format == "text"
    assert accesslog.wrap(hello, HTTPOptions()) is hello  # text: uvicorn writes the line
    assert accesslog.wrap(hello, HTTPOptions(access_log=False, access_log_format="json")) is hello
    quiet = HTTPOptions(access_log_format="json", log_level="warning")
    assert accesslog.wrap(hello, quiet) is hello  # no line would be written at that level
    assert isinstance(
        accesslog.wrap(hello, HTTPOptions(access_log_format="json")), accesslog.JsonAccessLog
    )
    # uvicorn's own access line is off in JSON format (ours replaces it).
    assert HTTPOptions().uvicorn_kwargs()["access_log"] is True
    assert HTTPOptions(access_log_format="json").uvicorn_kwargs()["access_log"] is False


# Runs the real `serve` master (exec'd, forking its workers) with the options built directly,
# as the CLI would once `--access-log-format` is wired to `HTTPOptions.access_log_format`.
APP = textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b"x" * 100
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
    """
)


@pytest.mark.slow
def test_serve_writes_parseable_json_lines(tmp_path: Path) -> None:
    (tmp_path / "svcapp.py").write_text(APP)
    port = free_port()
    with (tmp_path / "out.log").open("wb") as out, (tmp_path / "err.log").open("wb") as err:
        process = subprocess.Popen(
            # The real CLI: the flag picks the format (`--access-log-format`), the environment
            # the worker count, as an operator would.
            [
                sys.executable,
                "-m",
                "asgiforge",
                "serve",
                "svcapp:app",
                "--port",
                str(port),
                "--access-log-format",
                "json",
            ],
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "WEB_CONCURRENCY": "2"},
        )
    try:

        def get(path: str, headers: dict[str, str]) -> tuple[int, str | None]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                return response.status, response.getheader("x-request-id")
            finally:
                conn.close()

        assert wait_until(lambda: get("/", {})[0] == 200, 15), (tmp_path / "err.log").read_text()
        assert get("/search?q=a%20b", {"X-Request-ID": "trace-7"}) == (200, "trace-7")
        status, fresh = get("/bad", {"X-Request-ID": "no spaces allowed"})
        assert status == 200 and fresh is not None and re.fullmatch(r"[0-9a-f]{32}", fresh)

        def lines() -> list[dict[str, Any]]:
            text = (tmp_path / "out.log").read_text()
            return [json.loads(line) for line in text.splitlines() if line.strip()]

        assert wait_until(lambda: len(lines()) >= 3, 10)
        first, search, bad = lines()[-3:]
        assert first["path"] == "/" and "query" not in first
        assert search["path"] == "/search" and search["query"] == "q=a%20b"
        assert search["request_id"] == "trace-7" and bad["request_id"] == fresh
        for line in (first, search, bad):
            assert line["method"] == "GET" and line["status"] == 200 and line["bytes"] == 100
            assert line["http_version"] == "1.1"
            assert line["client"].startswith("127.0.0.1:")
            assert 0 <= line["duration_ms"] < 5000
        # The text line is not written as well: uvicorn's access log is off.
        assert '"GET /' not in (tmp_path / "err.log").read_text()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.mark.anyio
async def test_hostile_path_and_query_stay_inside_their_strings() -> None:
    raw: list[str] = []

    class Raw(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raw.append(record.getMessage())

    logger = logging.getLogger(accesslog.LOGGER)
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers[:], logger.level, logger.propagate = [Raw()], logging.INFO, False
    try:
        path = '/a"\n{"status": 999}\u2028é'
        await drive(accesslog.JsonAccessLog(hello), scope(path=path, query_string=b'x="\n\x00'))
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    (line,) = raw
    assert "\n" not in line and line.isascii()
    record = json.loads(line)
    assert record["path"] == path and record["query"] == 'x="\n\x00' and record["status"] == 201
