"""The benchmark app on FastAPI (optional anchor): Starlette's classes under FastAPI's app."""

from types import SimpleNamespace

from bench.apps.common import build

app, app_mw3, app_basehttp = build(SimpleNamespace(**globals()))
