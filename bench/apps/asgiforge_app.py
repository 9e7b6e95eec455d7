"""The benchmark app on asgiforge.runtime (the target)."""

from types import SimpleNamespace

from bench.apps.common import build

app, app_mw3, app_basehttp = build(SimpleNamespace(**globals()))
