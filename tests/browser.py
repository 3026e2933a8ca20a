"""Headless Chromium for the browser tests (the dashboard, /docs): Debian's chromium
and chromium-driver driven by Selenium; skipped, saying why, where they are missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium; skipped only where it is not installed or cannot start."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip(
            "Chromium is not installed: make test installs Debian's chromium and "
            "chromium-driver (needs apt as root or through sudo)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # for console_errors()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,860",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    try:
        # An explicit driver path: Selenium Manager never goes looking on the network.
        session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    except WebDriverException as error:
        pytest.skip(f"Chromium is installed but does not start here: {error.msg}")
    yield session
    session.quit()


@pytest.fixture
def snap(browser: WebDriver, tmp_path: Path) -> Callable[[str], None]:
    """`snap(name)`: a screenshot of the page into tmp_path (and UI_SCREENSHOTS)."""
    wanted = os.environ.get("UI_SCREENSHOTS")

    def take(name: str) -> None:
        # The whole page, not just the window: a viewport as tall as the document.
        height = browser.execute_script("return document.body.scrollHeight")
        metrics = {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        browser.save_screenshot(str(tmp_path / f"{name}.png"))
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        if wanted:
            folder = ROOT / wanted
            folder.mkdir(exist_ok=True)
            shutil.copyfile(tmp_path / f"{name}.png", folder / f"{name}.png")

    return take


def until(browser: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 90) -> Any:
    """Wait for `condition`; the pages redraw as they poll, so an element may go stale."""
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(browser, timeout, 0.1, ignored).until(condition)


def text(browser: WebDriver, selector: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, selector).text


def console_errors(browser: WebDriver) -> list[str]:
    """Script errors, failed loads and CSP refusals logged since the last call."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
