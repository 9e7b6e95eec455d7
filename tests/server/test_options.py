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
