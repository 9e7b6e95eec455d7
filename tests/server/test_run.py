"""`asgiforge.server.run`: what it tells the app about the process model it picked.

`asgiforge dev` exports `ASGIFORGE_DEV=1` before importing the app, so StaticFiles checks the disk
on every request: a saved asset is served at once instead of within `revalidate_interval`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.harness import free_port, wait_until
from tests.servers import kill_group

pytestmark = pytest.mark.slow

APP = textwrap.dedent(
    """
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.routing import Mount
    from asgiforge.runtime.staticfiles import StaticFiles

    app = App(routes=[Mount("/static", app=StaticFiles(directory="static"))])
    """
)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@pytest.mark.parametrize("reload", [True, False])
def test_dev_serves_an_edited_static_file_at_once(tmp_path: Path, reload: bool) -> None:
    (tmp_path / "main.py").write_text(APP)
    (tmp_path / "static").mkdir()
    asset = tmp_path / "static" / "a.txt"  # not a reload trigger: the same worker serves both
    asset.write_text("one")
    port = free_port()
    url = f"http://127.0.0.1:{port}/static/a.txt"
    command = [sys.executable, "-m", "asgiforge", "dev", "main:app", "--port", str(port)]
    if not reload:
        command.append("--no-reload")
    env = {k: v for k, v in os.environ.items() if k != "ASGIFORGE_DEV"}
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    try:
        assert wait_until(lambda: _get(url) == "one", 20)
        for text in ("two", "six", "ten"):  # same size: only a fresh check can tell
            asset.write_text(text)
            assert _get(url) == text  # no wait: under dev the cache is off
    finally:
        # TERM first: a clean stop removes the supervisor's temp dir.
        kill_group(process, timeout=10)
