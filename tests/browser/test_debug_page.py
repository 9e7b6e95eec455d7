"""The debug 500 page as a developer sees it: `asgiforge serve` on 127.0.0.1, headless Chromium.

The user's failing frame must be on screen without a click; the framework's frames folded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chromium import ARTIFACTS, chromium, skip_without_chromium
from tests.harness import free_port, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


skip_without_chromium()

APP = textwrap.dedent(
    """
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.responses import PlainTextResponse
    from asgiforge.runtime.routing import Route


    def database_url(settings):
        return settings["DATABASE_URL"]  # the line to fix


    async def home(request):
        if request.url.path == "/ok":
            return PlainTextResponse("ok")
        return PlainTextResponse(database_url({}))


    app = App(debug=True, routes=[Route("/", home), Route("/ok", home)])
    """
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "debugapp.py").write_text(APP)
    port = free_port()
    command = [sys.executable, "-m", "asgiforge", "serve", "debugapp:app", "--workers", "1"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--app-dir", str(tmp_path)]
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            with urllib.request.urlopen(base + "/ok", timeout=1) as response:
                return bool(response.status == 200)

        if not wait_until(up, timeout=20, step=0.1):
            pytest.fail("serve did not answer: " + (tmp_path / "server.log").read_text()[-2000:])
        yield base
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def in_viewport(driver: Any, element: Any) -> bool:
    return bool(
        driver.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;",
            element,
        )
    )


def test_users_frame_is_on_screen_and_framework_frames_are_folded(
    server: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    with pytest.raises(urllib.error.HTTPError) as answer:  # what a script gets: a real 500
        urllib.request.urlopen(server + "/", timeout=5)
    assert answer.value.code == 500
    answer.value.close()
    browser.get(server + "/")
    assert browser.title == "500 Server Error: KeyError: 'DATABASE_URL'"
    open_frames = [
        element
        for element in browser.find_elements(By.CSS_SELECTOR, "div.frame")
        if element.is_displayed()
    ]
    wheres = [frame.find_element(By.CSS_SELECTOR, ".where").text for frame in open_frames]
    assert [where.rsplit(" in ", 1)[1] for where in wheres] == ["home", "database_url"]
    failing = open_frames[-1].find_element(By.CSS_SELECTOR, ".line")
    assert "# the line to fix" in failing.text
    assert in_viewport(browser, failing)  # seen without scrolling or clicking
    folded = browser.find_elements(By.CSS_SELECTOR, "details.framework div.frame")
    assert folded and not any(frame.is_displayed() for frame in folded)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "debug-500-page.png"))
    browser.find_element(By.CSS_SELECTOR, "details.framework > summary").click()
    assert wait_until(lambda: all(frame.is_displayed() for frame in folded), 5)
    assert any("asgiforge" in frame.text for frame in folded)
