"""/docs in a real browser: Swagger UI, served by the real gunicorn server, renders
every operation of openapi.yaml and can call the API ("Try it out"). The screenshot
goes to the test's tmp dir (and to UI_SCREENSHOTS when set)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser import console_errors, until
from tests.openapi_support import document

pytestmark = pytest.mark.integration
METHODS = {"get", "put", "post", "delete", "patch"}


def rendered_operations(browser: WebDriver) -> set[tuple[str, str]]:
    """(METHOD, path) of each operation block Swagger UI drew."""
    return {
        (
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"),
        )
        for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")
    }


def test_docs_render_every_documented_operation(
    server: str, browser: WebDriver, snap: Callable[[str], None]
) -> None:
    documented = {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method in METHODS
    }
    browser.get(f"{server}/docs")
    until(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, ".opblock")) >= 20)
    operations = rendered_operations(browser)
    assert ("POST", "/v1/jobs") in operations
    assert ("POST", "/v1/models/{ref}/predict") in operations
    assert operations == documented
    assert "Keras training service" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    snap("docs")
    assert console_errors(browser) == []  # no script error, failed load or CSP refusal


def test_try_it_out_calls_the_api_from_the_page(server: str, browser: WebDriver) -> None:
    browser.get(f"{server}/docs")
    block = until(
        browser, lambda b: b.find_element(By.CSS_SELECTOR, '.opblock-get [data-path="/healthz"]')
    )
    block.click()
    until(browser, lambda b: b.find_element(By.CSS_SELECTOR, ".try-out__btn")).click()
    until(browser, lambda b: b.find_element(By.CSS_SELECTOR, ".execute")).click()
    status = until(
        browser,
        lambda b: b.find_element(
            By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status"
        ),
    )
    assert status.text == "200"
    assert console_errors(browser) == []
