"""`asgiforge serve` flags: every mistake is one line on stderr and a non-zero exit, at once."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness import run_bounded
from tests.server.serve_process import ServeProcess, free_port, wait_until, write_app


def run_serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a serve command expected to fail fast; its process group is killed if it does not."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "asgiforge", "serve", *args],
        cwd=write_app(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        out, _ = proc.communicate(timeout=20)
    finally:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
    return proc.returncode, out.decode()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--workers", "0"], 2, "error: --workers must be at least 1 (got 0)"),
        (["--loop", "tokio"], 2, "error: --loop must be one of auto, asyncio, uvloop"),
        (["--http", "h3"], 2, "error: --http must be one of auto, h11, httptools"),
        (["--timeout", "0"], 2, "error: --timeout must be positive (got 0)"),
        (["--bind", "nowhere"], 2, "error: invalid --bind 'nowhere': expected host:port"),
        (["--ssl-certfile", "missing.pem"], 3, "error: cannot read --ssl-certfile missing.pem"),
        (["--ssl-keyfile", "svcapp.py"], 2, "error: --ssl-keyfile needs --ssl-certfile"),
        (["--max-requests", "0"], 2, "error: --max-requests must be at least 1 (got 0)"),
        (["--header-timeout", "0"], 2, "error: --header-timeout must be positive (got 0)"),
        (["--limit-request-line", "0"], 2, "error: --limit-request-line must be at least 1"),
        (["--limit-request-fields", "0"], 2, "error: --limit-request-fields must be at least 1"),
        (["--ws-max-size", "0"], 2, "error: --ws-max-size must be at least 1 (got 0)"),
        (["--timeout-keep-alive", "0"], 2, "error: --timeout-keep-alive must be at least 1"),
    ],
)
def test_bad_flags_are_one_line_errors(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    status, output = run_serve(tmp_path, "svcapp:app", "--port", str(free_port()), *args)
    assert status == code
    assert output.strip().startswith(message)
    assert len(output.strip().splitlines()) == 1


def test_unreadable_certificate_content_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    status, output = run_serve(
        tmp_path, "svcapp:app", "--port", str(free_port()), "--ssl-certfile", "cert.pem"
    )
    assert status == 3
    assert output.strip().startswith("error: cannot load TLS certificate cert.pem")
    assert len(output.strip().splitlines()) == 1


def test_app_that_does_not_exist_fails_before_serving(tmp_path: Path) -> None:
    status, output = run_serve(
        tmp_path, "svcapp:nope", "--host", "127.0.0.1", "--port", str(free_port()), "-w", "1"
    )
    assert status == 2
    last = output.strip().splitlines()[-1]
    assert last == "error: module 'svcapp' has no attribute 'nope'"
    assert "ready" not in output


def test_web_concurrency_env_is_validated_like_the_flag(tmp_path: Path) -> None:
    # Validated by the same dataclass as --workers, and the message says the value came from
    # the variable, not the flag.
    status, output = run_serve(
        tmp_path, "svcapp:app", "--port", str(free_port()), env={"WEB_CONCURRENCY": "0"}
    )
    assert status == 2
    expected = "error: WEB_CONCURRENCY='0' (environment): --workers must be at least 1 (got 0)"
    assert output.strip() == expected


def test_help_lists_the_production_options(tmp_path: Path) -> None:
    status, output = run_serve(tmp_path, "--help", env={"COLUMNS": "200", "TERM": "dumb"})
    assert status == 0
    for flag in (
        "--bind",
        "--fd",
        "--workers",
        "--timeout",
        "--graceful-timeout",
        "--max-requests-jitter",
        "--max-worker-memory",
        "--pid",
        "--forwarded-allow-ips",
        "--no-access-log",
        "--access-log-format",
        "--no-proxy-headers",
        "--ssl-ca-certs",
        "--ssl-cert-reqs",
        "--ssl-ciphers",
        "--ssl-keyfile-password-file",
        "--print-config",
        "--check-config",
    ):
        assert flag in output
    # Each flag's help names the variables that set it and its default (from the dataclasses).
    assert "[env: ASGIFORGE_WORKERS, WEB_CONCURRENCY] [default: the CPU count]" in output
    assert "[env: ASGIFORGE_TIMEOUT] [default: 30.0]" in output
    assert "[env: ASGIFORGE_PORT, PORT] [default: 8000]" in output


# --- configuration in layers: command line > environment > pyproject.toml > default ---------


def _print_config(
    project: Path, *args: str, env: dict[str, str] | None = None, command: str = "serve"
) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ASGIFORGE_")}
    for name in ("PORT", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"):
        base.pop(name, None)
    result = run_bounded(
        [sys.executable, "-m", "asgiforge", command, "--print-config", "--json", *args],
        cwd=project,
        env={**base, **(env or {})},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.slow
def test_each_layer_and_its_precedence_through_the_real_cli(tmp_path: Path) -> None:
    write_app(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.asgiforge.serve]\n"
        "workers = 3\n"  # pyproject only
        "timeout = 12\n"  # pyproject, beaten by the environment
        "max-requests = 500\n"  # pyproject and environment, beaten by the flag
        'forwarded-allow-ips = "10.0.0.1"\n'  # beaten by the conventional variable
    )
    env = {
        "ASGIFORGE_TIMEOUT": "7.5",
        "ASGIFORGE_MAX_REQUESTS": "600",
        "FORWARDED_ALLOW_IPS": "10.0.0.2",
        "PORT": "9123",
    }
    options = _print_config(tmp_path, "--max-requests", "700", env=env)["options"]
    pyproject = str(tmp_path / "pyproject.toml")
    assert options["workers"] == {"value": 3, "source": "pyproject", "from": pyproject}
    assert options["timeout"] == {"value": 7.5, "source": "env", "from": "ASGIFORGE_TIMEOUT"}
    assert options["max-requests"] == {"value": 700, "source": "cli"}
    assert options["forwarded-allow-ips"]["value"] == "10.0.0.2"
    assert options["forwarded-allow-ips"]["from"] == "FORWARDED_ALLOW_IPS"
    assert options["port"] == {"value": 9123, "source": "env", "from": "PORT"}
    assert options["graceful-timeout"] == {"value": 30.0, "source": "default"}


@pytest.mark.slow
def test_print_config_text_names_each_source(tmp_path: Path) -> None:
    write_app(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.asgiforge.serve]\nworkers = 2\n")
    result = run_bounded(
        [sys.executable, "-m", "asgiforge", "serve", "--print-config", "--log-level", "debug"],
        cwd=tmp_path,
        env={**os.environ, "ASGIFORGE_SSL_KEYFILE_PASSWORD": "hunter2"},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert lines["workers"] == ["2", "pyproject", str(tmp_path / "pyproject.toml")]
    assert lines["log-level"] == ["debug", "cli"]
    assert lines["ssl-keyfile-password"] == ["***", "env", "ASGIFORGE_SSL_KEYFILE_PASSWORD"]
    assert "hunter2" not in result.stdout


@pytest.mark.parametrize(
    ("pyproject", "env", "message"),
    [
        (
            "",
            {"ASGIFORGE_WORKERS": "abc"},
            "error: ASGIFORGE_WORKERS='abc' (environment): not an integer",
        ),
        (
            "",
            {"ASGIFORGE_ACCESS_LOG": "maybe"},
            "error: ASGIFORGE_ACCESS_LOG='maybe' (environment): not a boolean",
        ),
        (
            "",
            {"ASGIFORGE_LOOP": "tokio"},
            "error: ASGIFORGE_LOOP='tokio' (environment): must be one of auto, asyncio, uvloop",
        ),
        (
            'workers = "four"\n',
            {},
            "error: [tool.asgiforge.serve] workers in {pyproject}: must be an integer (got 'four')",
        ),
        (
            "timeout = 0\n",
            {},
            "error: [tool.asgiforge.serve] timeout = 0 in {pyproject}: --timeout must be positive",
        ),
        (
            "worker = 4\n",
            {},
            "error: [tool.asgiforge.serve] in {pyproject}: unknown option 'worker' (did you mean "
            "'workers'?)",
        ),
    ],
)
@pytest.mark.slow
def test_a_bad_value_from_any_layer_names_the_layer(
    tmp_path: Path, pyproject: str, env: dict[str, str], message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.asgiforge.serve]\n" + pyproject)
    status, output = run_serve(tmp_path, "svcapp:app", "--port", str(free_port()), env=env)
    assert status == 2
    assert output.strip().startswith(message.format(pyproject=tmp_path / "pyproject.toml"))
    assert len(output.strip().splitlines()) == 1


@pytest.mark.slow
def test_pyproject_and_environment_reach_the_running_server(tmp_path: Path) -> None:
    # The port comes from pyproject.toml alone; the body limit from the environment, which
    # beats pyproject's: a 40-byte body is refused by the real server.
    port = free_port()
    write_app(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.asgiforge.serve]\nport = {port}\nhost = "127.0.0.1"\nworkers = 1\n'
        "limit-request-body = 1000\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "WEB_CONCURRENCY")}
    env["ASGIFORGE_LIMIT_REQUEST_BODY"] = "10"
    process = subprocess.Popen(
        [sys.executable, "-m", "asgiforge", "serve", "svcapp:app", "--no-access-log"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_until(lambda: _post(port, b"x" * 5)[0] == 200, 20)
        assert _post(port, b"x" * 40)[0] == 413
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _post(port: int, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/", body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.slow
def test_check_config_imports_the_app_and_binds_nothing(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as holder:  # the port is taken: a real start would fail
        holder.bind(("127.0.0.1", port))
        holder.listen()
        status, output = run_serve(
            tmp_path, "svcapp:app", "--host", "127.0.0.1", "--port", str(port), "--check-config"
        )
    assert status == 0, output
    assert output.strip() == "ok: svcapp:app imports"


@pytest.mark.slow
def test_check_config_reports_an_app_that_fails_to_import(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import os\napp = os.environ['NO_SUCH_VARIABLE_H1']\n")
    status, output = run_serve(tmp_path, "broken:app", "--check-config")
    assert status == 3
    assert output.splitlines()[0].startswith("error: ")
    assert "KeyError" in output.splitlines()[0]


# --- TLS: client certificates, ciphers, the key's password ----------------------------------


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 (plain and encrypted key) and a client's."""
    trustme = pytest.importorskip("trustme")
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("client.example")
    files = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "server.pem",
        "key": tmp_path / "server.key",
        "encrypted_key": tmp_path / "server-encrypted.key",
        "client": tmp_path / "client.pem",
        "password_file": tmp_path / "password.txt",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server.cert_chain_pems[0].write_to_path(str(files["cert"]))
    server.private_key_pem.write_to_path(str(files["key"]))
    client.private_key_and_cert_chain_pem.write_to_path(str(files["client"]))
    key = serialization.load_pem_private_key(server.private_key_pem.bytes(), password=None)
    files["encrypted_key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    files["password_file"].write_text("s3cret\n")
    return files


def _https_get(port: int, ca: Path, client_cert: Path | None = None) -> int:
    context = ssl.create_default_context(cafile=str(ca))
    if client_cert is not None:
        context.load_cert_chain(str(client_cert))
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.slow
def test_required_client_certificate_refuses_a_client_without_one(
    tmp_path: Path, pki: dict[str, Path]
) -> None:
    write_app(tmp_path)
    server = ServeProcess(
        tmp_path,
        "-w",
        "1",
        "--ssl-certfile",
        str(pki["cert"]),
        "--ssl-keyfile",
        str(pki["key"]),
        "--ssl-cert-reqs",
        "required",
        "--ssl-ca-certs",
        str(pki["ca"]),
    )
    try:
        server.wait_ready(1)
        assert _https_get(server.port, pki["ca"], pki["client"]) == 200
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _https_get(server.port, pki["ca"])
    finally:
        server.close()


@pytest.mark.slow
@pytest.mark.parametrize("where", ["env", "file"])
def test_an_encrypted_key_works_with_its_password(
    tmp_path: Path, pki: dict[str, Path], where: str
) -> None:
    write_app(tmp_path)
    args = [
        "-w",
        "1",
        "--ssl-certfile",
        str(pki["cert"]),
        "--ssl-keyfile",
        str(pki["encrypted_key"]),
    ]
    env = {}
    if where == "env":
        env["ASGIFORGE_SSL_KEYFILE_PASSWORD"] = "s3cret"
    else:
        args += ["--ssl-keyfile-password-file", str(pki["password_file"])]
    server = ServeProcess(tmp_path, *args, env=env)
    try:
        server.wait_ready(1)
        assert _https_get(server.port, pki["ca"]) == 200
    finally:
        server.close()


@pytest.mark.slow
@pytest.mark.parametrize("check", [False, True])
def test_a_wrong_key_password_is_one_line_at_start(
    tmp_path: Path, pki: dict[str, Path], check: bool
) -> None:
    args = ["svcapp:app", "--port", str(free_port()), "--ssl-certfile", str(pki["cert"])]
    args += ["--ssl-keyfile", str(pki["encrypted_key"])]
    if check:
        args.append("--check-config")
    status, output = run_serve(tmp_path, *args, env={"ASGIFORGE_SSL_KEYFILE_PASSWORD": "wrong"})
    assert status == 3
    assert output.strip().startswith(f"error: cannot load TLS key {pki['encrypted_key']}: wrong")
    assert len(output.strip().splitlines()) == 1


@pytest.mark.slow
def test_an_encrypted_key_without_a_password_says_where_to_give_it(
    tmp_path: Path, pki: dict[str, Path]
) -> None:
    status, output = run_serve(
        tmp_path,
        "svcapp:app",
        "--check-config",
        "--ssl-certfile",
        str(pki["cert"]),
        "--ssl-keyfile",
        str(pki["encrypted_key"]),
    )
    assert status == 3
    assert "ASGIFORGE_SSL_KEYFILE_PASSWORD or --ssl-keyfile-password-file" in output
    assert len(output.strip().splitlines()) == 1


def test_a_password_cannot_be_a_command_line_value(tmp_path: Path) -> None:
    status, output = run_serve(tmp_path, "svcapp:app", "--ssl-keyfile-password", "x")
    assert status == 2
    assert "No such option" in output


@pytest.mark.slow
def test_client_certificate_policy_needs_the_ca_and_takes_names(
    tmp_path: Path, pki: dict[str, Path]
) -> None:
    base = ["svcapp:app", "--check-config", "--ssl-certfile", str(pki["cert"])]
    base += ["--ssl-keyfile", str(pki["key"])]
    status, output = run_serve(tmp_path, *base, "--ssl-cert-reqs", "2")
    assert (status, output.strip()) == (
        2,
        "error: --ssl-cert-reqs must be one of none, optional, required (got '2')",
    )
    status, output = run_serve(tmp_path, *base, "--ssl-cert-reqs", "required")
    assert status == 2
    assert output.strip().startswith("error: --ssl-cert-reqs required needs --ssl-ca-certs")
    status, output = run_serve(tmp_path, *base, "--ssl-ciphers", "NO-SUCH-CIPHER")
    assert (status, output.strip()) == (
        3,
        "error: --ssl-ciphers 'NO-SUCH-CIPHER' selects no cipher",
    )
