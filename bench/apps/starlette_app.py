"""The benchmark app on Starlette (the anchor)."""

from types import SimpleNamespace

from bench.apps.common import build

app, app_mw3, app_basehttp = build(SimpleNamespace(**globals()))
