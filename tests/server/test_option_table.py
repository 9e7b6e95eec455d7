"""The options table: one row per `serve`/`dev` option, its defaults read from the dataclasses."""

from __future__ import annotations

import dataclasses

import pytest

from asgiforge.server import option_table
from asgiforge.server.dev.options import DevOptions, ReloadOptions
from asgiforge.server.option_table import COMMANDS, KINDS, OPTIONS, options_for
from asgiforge.server.options import AppTarget, HeadLimits, HTTPOptions
from asgiforge.server.serve.options import ServeOptions
from tests.harness import loaded_by

_CLASSES = {
    cls.__name__: cls
    for cls in (AppTarget, HeadLimits, HTTPOptions, ServeOptions, DevOptions, ReloadOptions)
}


def test_names_flags_and_keys_are_unique() -> None:
    names = [option.name for option in OPTIONS]
    assert len(names) == len(set(names))
    flags = [flag for option in OPTIONS for spelled in option.flags for flag in spelled.split("/")]
    assert len(flags) == len(set(flags))


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_every_row_is_well_formed(option: option_table.Option) -> None:
    assert option.kind in KINDS
    assert set(option.commands) <= set(COMMANDS) and option.commands
    assert option.help.endswith(".")
    assert option.env_names[0] == "ASGIFORGE_" + option.name.upper()
    # Every field it names exists on the dataclass it names.
    for fed in option.feeds.split(" / "):
        cls_name, _, field_name = fed.partition(".")
        if cls_name in _CLASSES:
            assert field_name in {f.name for f in dataclasses.fields(_CLASSES[cls_name])}
    # Secrets are never a command-line value; everything else has a flag.
    assert bool(option.flags) != option.secret


def test_the_conventional_variables() -> None:
    env = {option.name: option.env for option in OPTIONS if option.env}
    assert env == {
        "port": ("PORT",),
        "workers": ("WEB_CONCURRENCY",),
        "forwarded_allow_ips": ("FORWARDED_ALLOW_IPS",),
    }


@pytest.mark.parametrize(
    ("command", "name", "cls", "field"),
    [
        ("serve", "loop", HTTPOptions, "loop"),
        ("serve", "timeout", ServeOptions, "timeout"),
        ("serve", "graceful_timeout", ServeOptions, "graceful_timeout"),
        ("dev", "graceful_timeout", ReloadOptions, "graceful_timeout"),
        ("dev", "port", DevOptions, "port"),
        ("serve", "header_timeout", HeadLimits, "header_timeout"),
        ("serve", "limit_request_line", HeadLimits, "max_request_line"),
        ("serve", "ssl_ciphers", HTTPOptions, "ssl_ciphers"),
        ("dev", "ssl_cert_reqs", HTTPOptions, "ssl_cert_reqs"),
        ("serve", "access_log_format", HTTPOptions, "access_log_format"),
    ],
)
def test_defaults_are_the_dataclasses_own(command: str, name: str, cls: type, field: str) -> None:
    (option,) = [option for option in options_for(command) if option.name == name]
    assert option.default(command) == option_table.field_default(cls, field)


def test_each_command_takes_the_tls_options() -> None:
    for command in COMMANDS:
        names = {option.name for option in options_for(command)}
        assert {
            "ssl_certfile",
            "ssl_keyfile",
            "ssl_keyfile_password",
            "ssl_keyfile_password_file",
            "ssl_ca_certs",
            "ssl_cert_reqs",
            "ssl_ciphers",
        } <= names


def test_the_table_imports_no_cli_and_no_server_machinery() -> None:
    heavy = ("typer", "rich", "uvicorn", "asgiforge.runtime", "asgiforge.server.protocols", "ssl")
    assert loaded_by("import asgiforge.server.option_table, asgiforge.server.config", heavy) == []


def test_routes_and_the_root_help_do_not_load_the_table() -> None:
    table = ("asgiforge.server.option_table", "asgiforge.server.config", "asgiforge.cli._table")
    assert loaded_by("import asgiforge.cli._app, asgiforge.cli.routes", table) == []
