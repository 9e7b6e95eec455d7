"""Options shared by the process models: each dataclass checks its own fields when built."""

from __future__ import annotations

from pathlib import Path

import pytest

from asgiforge.errors import ServeError, UsageError
from asgiforge.server.options import HeadLimits, HTTPOptions, field_default
from asgiforge.server.serve.options import ServeOptions


def test_http_options_check_their_own_fields(tmp_path: Path) -> None:
    assert HTTPOptions(log_level="DEBUG").log_level == "debug"
    assert HTTPOptions(log_level="trace").log_level_number == 5
    with pytest.raises(UsageError, match="--log-level must be one of critical, error"):
        HTTPOptions(log_level="loud")
    with pytest.raises(UsageError, match="--loop must be one of auto, asyncio, uvloop"):
        HTTPOptions(loop="tokio")
    with pytest.raises(ServeError, match="cannot read --ssl-certfile"):
        HTTPOptions(ssl_certfile=str(tmp_path / "missing.pem"))


def test_head_limits_refuse_zero() -> None:
    with pytest.raises(UsageError, match=r"--limit-request-line must be at least 1 \(got 0\)"):
        HeadLimits(max_request_line=0)
    with pytest.raises(UsageError, match=r"--header-timeout must be positive \(got 0\)"):
        HeadLimits(header_timeout=0)


def test_field_default_reads_the_dataclass() -> None:
    assert field_default(ServeOptions, "timeout") == 30.0
    assert field_default(HTTPOptions, "limits") == HeadLimits()
    with pytest.raises(LookupError):
        field_default(ServeOptions, "target")


def test_tls_options_are_checked_and_passed_to_uvicorn(tmp_path: Path) -> None:
    import ssl

    cert = tmp_path / "cert.pem"
    cert.write_text("")
    with pytest.raises(UsageError, match="--ssl-cert-reqs must be one of none, optional, required"):
        HTTPOptions(ssl_certfile=str(cert), ssl_cert_reqs="2")
    with pytest.raises(UsageError, match="--ssl-cert-reqs optional needs --ssl-ca-certs"):
        HTTPOptions(ssl_certfile=str(cert), ssl_cert_reqs="optional")
    with pytest.raises(UsageError, match="--ssl-cert-reqs needs --ssl-certfile"):
        HTTPOptions(ssl_cert_reqs="required")
    with pytest.raises(UsageError, match="--ssl-ciphers cannot be empty"):
        HTTPOptions(ssl_ciphers=" ")
    with pytest.raises(UsageError, match="--access-log-format must be one of text, json"):
        HTTPOptions(access_log_format="xml")
    options = HTTPOptions(
        ssl_certfile=str(cert),
        ssl_ca_certs=str(cert),
        ssl_cert_reqs="required",
        ssl_ciphers="ECDHE+AESGCM",
        ssl_keyfile_password="s3cret",
    )
    kwargs = options.uvicorn_kwargs()
    assert kwargs["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert kwargs["ssl_ca_certs"] == str(cert)
    assert kwargs["ssl_ciphers"] == "ECDHE+AESGCM"
    assert kwargs["ssl_keyfile_password"] == "s3cret"
    assert "s3cret" not in repr(options)
