"""`asgiforge.server.config`: the layers, their precedence, and errors that name the layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from asgiforge.errors import ConfigError, ServeError, UsageError
from asgiforge.server.config import dev_options, resolve, serve_options

APP = "async def app(scope, receive, send):\n    pass\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory, the current one (relative paths and the app are found there)."""
    (tmp_path / "main.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _pyproject(project: Path, command: str, body: str) -> Path:
    path = project / "pyproject.toml"
    path.write_text(f"[tool.asgiforge.{command}]\n{body}")
    return path


def test_command_line_beats_environment_beats_pyproject_beats_default(project: Path) -> None:
    pyproject = _pyproject(project, "serve", "workers = 2\ntimeout = 9\nmax-requests = 10\n")
    environ = {"ASGIFORGE_TIMEOUT": "8", "ASGIFORGE_MAX_REQUESTS": "20"}
    config = resolve("serve", {"max_requests": 30}, environ, cwd=project)
    assert config["workers"] == 2
    assert str(config.settings["workers"].source) == f"pyproject {pyproject}"
    assert config["timeout"] == 8.0
    assert str(config.settings["timeout"].source) == "env ASGIFORGE_TIMEOUT"
    assert config["max_requests"] == 30
    assert str(config.settings["max_requests"].source) == "cli"
    assert str(config.settings["graceful_timeout"].source) == "default"


def test_asgiforge_variable_beats_the_conventional_one(project: Path) -> None:
    config = resolve("serve", {}, {"WEB_CONCURRENCY": "3", "ASGIFORGE_WORKERS": "5"}, cwd=project)
    assert config["workers"] == 5
    config = resolve("serve", {}, {"WEB_CONCURRENCY": "3"}, cwd=project)
    assert (config["workers"], str(config.settings["workers"].source)) == (
        3,
        "env WEB_CONCURRENCY",
    )


def test_environment_values_are_parsed_by_kind(project: Path) -> None:
    environ = {
        "ASGIFORGE_ACCESS_LOG": "off",
        "ASGIFORGE_BIND": "127.0.0.1:9001, unix:/tmp/x.sock",
        "ASGIFORGE_FD": "3,4",
        "ASGIFORGE_MAX_WORKER_MEMORY": "512.5",
        "ASGIFORGE_PID": "run/app.pid",
    }
    config = resolve("serve", {}, environ, cwd=project)
    assert config["access_log"] is False
    assert config["bind"] == ("127.0.0.1:9001", "unix:/tmp/x.sock")
    assert config["fd"] == (3, 4)
    assert config["max_worker_memory"] == 512.5
    assert config["pid"] == Path("run/app.pid")


def test_pyproject_paths_are_relative_to_its_directory(project: Path, tmp_path: Path) -> None:
    _pyproject(project, "serve", 'pid = "run/app.pid"\nbind = "127.0.0.1:9001"\n')
    sub = project / "sub"
    sub.mkdir()
    config = resolve("serve", {"app_dir": Path("sub")}, {}, cwd=project)
    assert config["pid"] == project / "run" / "app.pid"
    assert config["bind"] == ("127.0.0.1:9001",)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ASGIFORGE_WORKERS": "abc"}, "ASGIFORGE_WORKERS='abc' (environment): not an integer"),
        ({"PORT": "80a"}, "PORT='80a' (environment): not an integer"),
        ({"ASGIFORGE_TIMEOUT": "soon"}, "ASGIFORGE_TIMEOUT='soon' (environment): not a number"),
        (
            {"ASGIFORGE_HTTP": "h3"},
            "ASGIFORGE_HTTP='h3' (environment): must be one of auto, h11, httptools",
        ),
        ({"ASGIFORGE_FD": "3,x"}, "ASGIFORGE_FD='3,x' (environment): not an integer"),
    ],
)
def test_a_bad_environment_value_names_the_variable(
    project: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve("serve", {}, environ, cwd=project)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("workers = true\n", "workers in {p}: must be an integer (got True)"),
        ("timeout = '3'\n", "timeout in {p}: must be a number (got '3')"),
        ("access-log = 'no'\n", "access-log in {p}: must be true or false (got 'no')"),
        ("loop = 'tokio'\n", "loop in {p}: must be one of auto, asyncio, uvloop"),
        ("fd = [3, 'x']\n", "fd in {p}: must be an integer (got 'x')"),
        (
            "max_request = 3\n",
            "in {p}: unknown option 'max_request' (did you mean 'max-requests'?)",
        ),
        ("ssl-keyfile-password = 'x'\n", "in {p}: unknown option 'ssl-keyfile-password'"),
    ],
)
def test_a_bad_pyproject_value_names_the_table_the_key_and_the_file(
    project: Path, body: str, message: str
) -> None:
    path = _pyproject(project, "serve", body)
    with pytest.raises(ConfigError) as caught:
        resolve("serve", {}, {}, cwd=project)
    assert str(caught.value).startswith("[tool.asgiforge.serve] " + message.format(p=path))


def test_underscores_are_accepted_in_pyproject_keys(project: Path) -> None:
    _pyproject(project, "serve", "max_requests_jitter = 4\n")
    assert resolve("serve", {}, {}, cwd=project)["max_requests_jitter"] == 4


def test_each_command_reads_its_own_table(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        "[tool.asgiforge]\napp = 'main:app'\n[tool.asgiforge.serve]\nport = 9000\n"
        "[tool.asgiforge.dev]\nport = 9100\n"
    )
    assert resolve("serve", {}, {}, cwd=project)["port"] == 9000
    assert resolve("dev", {}, {}, cwd=project)["port"] == 9100


def test_a_dataclass_error_about_a_layered_value_names_the_layer(project: Path) -> None:
    config = resolve("serve", {}, {"WEB_CONCURRENCY": "0"}, cwd=project)
    with pytest.raises(UsageError) as caught:
        serve_options(config, "main:app")
    assert str(caught.value) == (
        "WEB_CONCURRENCY='0' (environment): --workers must be at least 1 (got 0)"
    )
    path = _pyproject(project, "serve", "limit-request-fields = 0\n")
    config = resolve("serve", {}, {}, cwd=project)
    with pytest.raises(UsageError) as caught:
        serve_options(config, "main:app")
    assert str(caught.value).startswith(
        f"[tool.asgiforge.serve] limit-request-fields = 0 in {path}: --limit-request-fields must"
    )


def test_a_command_line_error_is_left_as_it_was(project: Path) -> None:
    config = resolve("serve", {"workers": 0}, {}, cwd=project)
    with pytest.raises(UsageError) as caught:
        serve_options(config, "main:app")
    assert str(caught.value) == "--workers must be at least 1 (got 0)"


def test_options_reach_the_dataclasses(project: Path) -> None:
    environ = {"ASGIFORGE_LIMIT_REQUEST_BODY": "0", "FORWARDED_ALLOW_IPS": "10.0.0.1"}
    given = {"proxy_headers": False, "workers": 2, "access_log_format": "json"}
    options, retarget = serve_options(resolve("serve", given, environ, cwd=project), "main:app")
    assert options.workers == 2
    assert options.http.limits.max_body_size is None
    assert options.http.forwarded_allow_ips == "10.0.0.1"
    assert options.http.proxy_headers is False
    assert options.http.access_log_format == "json"
    assert retarget().import_string == "main:app"


def test_dev_finds_dotenv_unless_told_not_to(project: Path) -> None:
    (project / ".env").write_text("A=1\nB=2\n")
    config = resolve("dev", {}, {}, cwd=project)
    assert config["env_file"] == Path(".env")
    assert str(config.settings["env_file"].source) == "default (found in --app-dir)"
    assert resolve("dev", {"dotenv": False}, {}, cwd=project)["env_file"] is None
    explicit = resolve("dev", {"env_file": Path("other.env")}, {}, cwd=project)
    assert explicit["env_file"] == Path("other.env")
    # serve loads an env file only when given one.
    assert resolve("serve", {}, {}, cwd=project)["env_file"] is None


def test_the_key_password_from_a_file_or_the_environment_never_both(
    project: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "password.txt"
    secret.write_text("from-file\nignored\n")
    cert = tmp_path / "cert.pem"
    cert.write_text("")
    given = {"ssl_certfile": cert, "ssl_keyfile_password_file": secret, "reload": False}
    options = dev_options(resolve("dev", given, {}, cwd=project), "main:app")
    assert options.http.ssl_keyfile_password == "from-file"
    assert "from-file" not in repr(options)
    environ = {"ASGIFORGE_SSL_KEYFILE_PASSWORD": "from-env"}
    with pytest.raises(ConfigError, match="given twice"):
        dev_options(resolve("dev", given, environ, cwd=project), "main:app")
    config = resolve("dev", {"ssl_certfile": cert, "reload": False}, environ, cwd=project)
    assert dev_options(config, "main:app").http.ssl_keyfile_password == "from-env"


def test_secrets_are_never_printed(project: Path) -> None:
    config = resolve("serve", {}, {"ASGIFORGE_SSL_KEYFILE_PASSWORD": "hunter2"}, cwd=project)
    assert "hunter2" not in repr(config.lines()) + repr(config.as_json())
    assert config.as_json()["ssl-keyfile-password"]["value"] == "***"


def test_tls_policy_is_checked_by_http_options(project: Path, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("")
    config = resolve("serve", {"ssl_ca_certs": cert}, {}, cwd=project)
    with pytest.raises(UsageError, match="--ssl-ca-certs needs --ssl-certfile"):
        serve_options(config, "main:app")
    config = resolve("serve", {"ssl_ca_certs": tmp_path / "missing.pem"}, {}, cwd=project)
    with pytest.raises(ServeError, match="cannot read --ssl-ca-certs"):
        serve_options(config, "main:app")
