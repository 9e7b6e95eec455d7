"""The `full` template's pages as people see them: a generated project served by uvicorn on
127.0.0.1 and driven by headless Chromium (Selenium), with screenshots under test-artifacts/."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asgiforge import scaffold

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
DESCRIPTION = "Pages <b>escaped</b> & {{ 7*7 }} literal"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        "browser tests need Debian's chromium and chromium-driver (apt install chromium "
        "chromium-driver); CI installs them",
        allow_module_level=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The generated `full` project served by uvicorn in its own process group."""
    root = tmp_path_factory.mktemp("browser")
    plan = scaffold.plan_project(
        "showcase", template="full", target=root / "showcase", options={"description": DESCRIPTION}
    )
    scaffold.write(plan)
    port = _free_port()
    log = (root / "server.log").open("wb")
    command = [sys.executable, "-m", "uvicorn", "showcase.app:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        command,
        cwd=plan.target,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "SECRET_KEY": "browser-test", "PYTHONPATH": str(plan.target)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        for _ in range(200):
            if process.poll() is not None or time.monotonic() > deadline:
                break
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        if process.poll() is not None:
            log.flush()
            pytest.fail("uvicorn exited: " + (root / "server.log").read_text()[-2000:])
        yield base
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="asgiforge-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, popen_kw={"start_new_session": True})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(driver: Any, condition: Any, timeout: float = 10) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def _shot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_home_page_shows_the_project_and_counts_visits(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    assert browser.title == "showcase"
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "Welcome to showcase"
    # The description is shown as text: markup escaped, Jinja syntax literal.
    assert browser.find_element(By.ID, "description").text == DESCRIPTION
    assert "visited this page 1 time " in browser.find_element(By.ID, "visits").text + " "
    browser.refresh()
    assert "visited this page 2 times" in browser.find_element(By.ID, "visits").text
    # The stylesheet from StaticFiles applied: the header is a flex row.
    header = browser.find_element(By.CSS_SELECTOR, "header")
    assert header.value_of_css_property("display") == "flex"
    _shot(browser, "full-home")


def test_about_and_404_pages(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server + "/about")
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "About"
    assert browser.find_element(By.ID, "uptime").text.endswith(" s")
    _shot(browser, "full-about")
    browser.get(server + "/no/such/page")
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "Page not found"
    assert "/no/such/page" in browser.find_element(By.CSS_SELECTOR, "code").text
    _shot(browser, "full-404")


def test_chat_round_trips_a_message(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server + "/chat")
    _wait(browser, lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "open")
    browser.find_element(By.ID, "author").clear()
    browser.find_element(By.ID, "author").send_keys("selenium")
    message = "hello <i>from</i> the browser"
    browser.find_element(By.ID, "text").send_keys(message)
    browser.find_element(By.CSS_SELECTOR, "#chat-form button").click()
    expected = f"selenium: {message}"

    def shown_in(list_id: str) -> Any:
        selector = f"#{list_id} li"
        return lambda d: expected in [li.text for li in d.find_elements(By.CSS_SELECTOR, selector)]

    _wait(browser, shown_in("messages"))  # back over the WebSocket
    _wait(browser, shown_in("feed"))  # and over server-sent events
    assert browser.find_element(By.ID, "text").get_attribute("value") == ""
    assert not browser.find_elements(By.CSS_SELECTOR, "#messages i")  # text, never markup
    _shot(browser, "full-chat")
