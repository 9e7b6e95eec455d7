"""Config as a settings module uses it: environment over .env file over default, with casts."""

from __future__ import annotations

from pathlib import Path

import pytest

from asgiforge.runtime.config import Config, Environ, EnvironError, environ
from asgiforge.runtime.datastructures import URL, CommaSeparatedStrings, Secret


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text(
        "# a comment\n"
        "\n"
        "DATABASE_URL=postgres://user:pass@localhost/db\n"
        "SECRET_KEY = 'very secret'\n"
        'ALLOWED_HOSTS="example.com, www.example.com"\n'
        "DEBUG=true\n"
        "export PORT=8000\n"
        "EMPTY=\n"
        "not a pair\n"
    )
    return path


def test_reads_env_file_with_casts(env_file: Path) -> None:
    config = Config(env_file, environ={})
    assert config("DATABASE_URL", cast=URL).hostname == "localhost"
    secret = config("SECRET_KEY", cast=Secret)
    assert str(secret) == "very secret"
    assert "very secret" not in repr(secret)
    hosts = config("ALLOWED_HOSTS", cast=CommaSeparatedStrings)
    assert list(hosts) == ["example.com", "www.example.com"]
    assert config("DEBUG", cast=bool) is True
    assert config("PORT", cast=int) == 8000
    assert config("EMPTY") == ""
    assert config("DATABASE_URL") == "postgres://user:pass@localhost/db"


def test_environment_wins_over_file(env_file: Path) -> None:
    config = Config(env_file, environ={"DEBUG": "0"})
    assert config("DEBUG", cast=bool) is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("True", True), ("1", True), ("false", False), ("FALSE", False), ("0", False)],
)
def test_bool_cast(raw: str, expected: bool) -> None:
    assert Config(environ={"FLAG": raw})("FLAG", cast=bool) is expected


def test_defaults_are_cast_and_none_is_a_default() -> None:
    config = Config(environ={})
    assert config("PORT", cast=int, default="8000") == 8000
    assert config("DEBUG", cast=bool, default=False) is False
    assert config("OPTIONAL", default=None) is None
    assert config("OPTIONAL", cast=int, default=None) is None


def test_missing_key_names_it() -> None:
    with pytest.raises(KeyError, match="Config 'API_KEY' is missing, and has no default"):
        Config(environ={})("API_KEY")


def test_bad_casts_name_key_and_type() -> None:
    config = Config(environ={"PORT": "eighty", "DEBUG": "maybe"})
    with pytest.raises(ValueError, match=r"Config 'PORT' has value 'eighty'\. Not a valid int\."):
        config("PORT", cast=int)
    with pytest.raises(ValueError, match=r"Config 'DEBUG' has value 'maybe'\. Not a valid bool"):
        config("DEBUG", cast=bool)


def test_env_prefix() -> None:
    config = Config(environ={"APP_DEBUG": "1", "DEBUG": "0"}, env_prefix="APP_")
    assert config("DEBUG", cast=bool) is True
    with pytest.raises(KeyError, match="APP_OTHER"):
        config("OTHER")


def test_missing_env_file_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="not found"):
        config = Config(tmp_path / "missing.env", environ={"A": "1"})
    assert config("A") == "1"


def test_get_is_call() -> None:
    assert Config(environ={"A": "2"}).get("A", int) == 2


def test_environ_refuses_to_change_a_key_already_read() -> None:
    backing: dict[str, str] = {"A": "1"}
    env = Environ(backing)
    env["B"] = "2"  # not read yet: allowed
    del env["B"]
    assert env["A"] == "1"
    with pytest.raises(EnvironError, match="already been read"):
        env["A"] = "2"
    with pytest.raises(EnvironError, match="already been read"):
        del env["A"]
    assert backing == {"A": "1"}
    assert list(env) == ["A"]
    assert len(env) == 1


def test_config_marks_keys_read_in_environ() -> None:
    env = Environ({"TOKEN": "x"})
    Config(environ=env)("TOKEN")
    with pytest.raises(EnvironError):
        env["TOKEN"] = "y"


def test_module_environ_wraps_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGIFORGE_TEST_CONFIG_VALUE", "hello")
    assert environ["ASGIFORGE_TEST_CONFIG_VALUE"] == "hello"
    assert Config()("ASGIFORGE_TEST_CONFIG_VALUE") == "hello"
