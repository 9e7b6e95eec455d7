"""The `full` template's pages as people see them: a generated project served by uvicorn on
127.0.0.1 and driven by headless Chromium (Selenium), with screenshots under test-artifacts/."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from asgiforge import scaffold
from tests.browser.chromium import ARTIFACTS, chromium, skip_without_chromium
from tests.harness import free_port, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESCRIPTION = "Pages <b>escaped</b> & {{ 7*7 }} literal"

skip_without_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The generated `full` project served by uvicorn in its own process group."""
    root = tmp_path_factory.mktemp("browser")
    plan = scaffold.plan_project(
        "showcase", template="full", target=root / "showcase", options={"description": DESCRIPTION}
    )
    scaffold.write(plan)
    port = free_port()
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

        def healthy() -> bool:
            if process.poll() is not None:
                return True  # exited: stop waiting, reported below
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                return bool(response.status == 200)

        wait_until(healthy, timeout=20, step=0.1)
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
    with chromium() as driver:
        yield driver


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


def _rgb(css_colour: str) -> tuple[float, float, float]:
    """`rgb(r, g, b)` / `rgba(r, g, b, a)` as computed by the browser, in 0..1."""
    numbers = css_colour[css_colour.index("(") + 1 : css_colour.index(")")].split(",")
    red, green, blue = (float(n) / 255 for n in numbers[:3])
    return red, green, blue


def _luminance(colour: tuple[float, float, float]) -> float:
    """WCAG relative luminance."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(c) for c in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(_rgb(a)), _luminance(_rgb(b))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_chat_is_readable_in_the_users_colour_scheme(
    browser: Any, server: str, scheme: str
) -> None:
    """The chat's lists follow `prefers-color-scheme`: dark background with light text in dark
    mode (the page declares `color-scheme: light dark`), and WCAG AA contrast (4.5:1) for the
    messages and the connection status in both schemes."""
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
    try:
        browser.get(server + "/chat")
        _wait(browser, lambda d: d.find_element(By.ID, "status").get_attribute("data-state"))
        messages = browser.find_element(By.ID, "messages")
        background = messages.value_of_css_property("background-color")
        text = messages.value_of_css_property("color")
        if scheme == "dark":
            assert _luminance(_rgb(background)) < 0.2, background
        else:
            assert _luminance(_rgb(background)) > 0.8, background
        assert _contrast(text, background) >= 4.5, (text, background)
        # The page itself has no background of its own: it shows the canvas, which is the
        # `Canvas` colour the message list uses too.
        status = browser.find_element(By.ID, "status").value_of_css_property("color")
        assert _contrast(status, background) >= 4.5, (status, background)
        _shot(browser, f"full-chat-{scheme}")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
