"""The dashboard in a real browser: Debian's Chromium, driven by Selenium, against the
real gunicorn server and worker. Screenshots go to the test's tmp dir, and also to the
folder in UI_SCREENSHOTS when it is set (`UI_SCREENSHOTS=docs` refreshes the README's)."""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select
from werkzeug.serving import make_server

from service.app import create_app
from service.config import Settings
from tests.browser import console_errors, text, until
from tests.helpers import EXAMPLES, example

pytestmark = pytest.mark.integration

# A handwritten 0 from the digits data set (64 pixel values, 0-16).
ZERO = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4]
ZERO += [12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5]
ZERO += [10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]
XSS = """<img src=x onerror="document.title='pwned'">"""
KEY = "reader-key-0123456789"


def submit(server: str, example_name: str, **changes: Any) -> str:
    request = urllib.request.Request(
        f"{server}/v1/jobs",
        data=json.dumps({**example(example_name), **changes}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return json.loads(response.read())["id"]


def test_a_job_is_watched_live_from_the_list_to_a_prediction(
    server: str, worker: Any, browser: WebDriver, snap: Callable[[str], None]
) -> None:
    submit(server, "sum_of_two")  # another job, so the list shows more than one
    job_id = submit(server, "digits")
    row = f'tr[data-job-id="{job_id}"]'

    browser.get(f"{server}/ui")
    assert until(browser, lambda b: text(b, row).startswith("digits-mlp"))
    until(browser, lambda b: text(b, f"{row} .progress-text") == "100 %")
    assert "finished" in text(browser, row)
    assert "accuracy" in text(browser, row)  # the final test metrics
    snap("ui-jobs")

    browser.find_element(By.CSS_SELECTOR, f"{row} a").click()
    until(browser, lambda b: "38,410" in text(b, "#summary"))
    summary = text(browser, "#summary")
    assert "dense (Dense)" in summary
    assert "(None, 512)" in summary
    charts = browser.find_elements(By.CSS_SELECTOR, "#charts figure")
    assert [c.find_element(By.TAG_NAME, "strong").text for c in charts] == ["loss", "accuracy"]
    assert len(charts[0].find_elements(By.TAG_NAME, "polyline")) == 2  # train and validation

    rows = browser.find_element(By.ID, "rows")
    rows.clear()
    rows.send_keys(json.dumps([ZERO]))
    Select(browser.find_element(By.NAME, "return")).select_by_value("both")
    browser.find_element(By.ID, "predict-button").click()
    answer = until(browser, lambda b: "classes" in text(b, "#answer") and text(b, "#answer"))
    assert answer.startswith("predictions:")
    assert answer.endswith("classes:\n  0")
    snap("ui-job")
    assert console_errors(browser) == []


def test_names_from_clients_are_shown_as_text_and_problems_with_their_detail(
    server: str, worker: Any, browser: WebDriver
) -> None:
    job_id = submit(server, "sum_of_two", name=XSS)
    row = f'tr[data-job-id="{job_id}"]'
    browser.get(f"{server}/ui")
    assert until(browser, lambda b: text(b, f"{row} a") == XSS)
    assert browser.find_elements(By.CSS_SELECTOR, f"{row} img") == []

    browser.get(f"{server}/ui/jobs/{job_id}")
    until(browser, lambda b: b.find_element(By.ID, "predict-button").is_enabled())
    assert text(browser, "#name") == XSS
    assert browser.title != "pwned"
    rows = browser.find_element(By.ID, "rows")
    rows.clear()
    rows.send_keys("[[1, 2, 3]]")  # the model takes 2 numbers a row
    browser.find_element(By.ID, "predict-button").click()
    answer = until(browser, lambda b: text(b, "#answer") != "…" and text(b, "#answer"))
    assert answer.startswith("Invalid prediction input:"), answer


@pytest.fixture
def keyed_server(settings: Settings) -> Iterator[str]:
    """The app with an API key configured, on the session's Redis, in a thread."""
    app = create_app(dataclasses.replace(settings, api_keys=f"{KEY}:read"))
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join()


def test_with_api_keys_the_dashboard_asks_for_one_and_then_shows_the_jobs(
    server: str, worker: Any, keyed_server: str, browser: WebDriver
) -> None:
    job_id = submit(server, "sum_of_two")
    browser.get(f"{keyed_server}/ui")
    until(browser, lambda b: "needs an API key" in text(b, "#notice"))
    browser.find_element(By.CSS_SELECTOR, "#key-form input").send_keys(KEY)
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    until(browser, lambda b: text(b, f'tr[data-job-id="{job_id}"] a') == "sum-of-two")
    assert not browser.find_element(By.ID, "notice").is_displayed()
    assert text(browser, "#key-state") == "API key: set"
    browser.execute_script("sessionStorage.clear()")  # the browser outlives this test


def test_a_sweep_is_followed_live_to_its_leaderboard_and_charts(
    server: str, worker: Any, browser: WebDriver, snap: Callable[[str], None]
) -> None:
    body = json.loads((EXAMPLES / "digits_sweep.json").read_text())
    body["spec"]["fit"].update(epochs=3, early_stopping=None)
    body.update(trials=3, parallel=1, pruner="none", promote=None)
    request = urllib.request.Request(
        f"{server}/v1/sweeps",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        sweep_id = json.loads(response.read())["id"]

    console_errors(browser)  # drains what earlier tests left (a refused key, a 422)
    browser.get(f"{server}/ui/sweeps")
    row = f'tr[data-sweep-id="{sweep_id}"]'
    assert until(browser, lambda b: text(b, f"{row} a") == "digits-sweep")
    browser.find_element(By.CSS_SELECTOR, f"{row} a").click()
    # Live: the leaderboard fills in as trials end, until all three have.
    until(browser, lambda b: text(b, "#status") == "finished", timeout=180)
    rows = browser.find_elements(By.CSS_SELECTOR, "#leaderboard tr")
    assert len(rows) == 3
    shown = [float(r.find_element(By.CSS_SELECTOR, ".objective").text) for r in rows]
    assert shown == sorted(shown)  # val_loss, minimized: best first
    heading = browser.find_element(By.ID, "objective-name").get_attribute("textContent")
    assert heading == "val_loss"  # (the header row is styled in capitals)
    # One chart per searched path, one dot per trial, the best marked.
    charts = browser.find_elements(By.CSS_SELECTOR, "#charts figure")
    assert [c.get_attribute("data-path") for c in charts] == list(body["search"])
    for chart in charts:
        assert len(chart.find_elements(By.TAG_NAME, "circle")) == 3
        assert len(chart.find_elements(By.CSS_SELECTOR, "circle.trial-best")) == 1
    snap("ui-sweep")
    assert console_errors(browser) == []


def test_an_alias_shows_its_weights_shadow_and_report(
    server: str, trained: Any, browser: WebDriver, snap: Callable[[str], None]
) -> None:
    ten, binary, added = trained("digits"), trained("digits_binary"), trained("sum_of_two")
    name = f"ui-{ten['id'][:8]}"
    setting = {
        "targets": [{"job_id": ten["id"], "weight": 75}, {"job_id": binary["id"], "weight": 25}],
        "shadow": {"job_id": added["id"], "percent": 50},
    }
    request = urllib.request.Request(
        f"{server}/v1/aliases/{name}",
        data=json.dumps(setting).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=60).close()
    predict = urllib.request.Request(
        f"{server}/v1/models/{name}/predict",
        data=json.dumps({"instances": [[0.0] * 64]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    for _ in range(20):
        urllib.request.urlopen(predict, timeout=60).close()

    console_errors(browser)
    browser.get(f"{server}/ui/aliases")
    row = f'tr[data-alias="{name}"]'
    assert until(
        browser,
        lambda b: text(b, f"{row} .targets") == f"{ten['id'][:8]} 75 %, {binary['id'][:8]} 25 %",
    )
    assert text(browser, f"{row} .shadow") == f"{added['id'][:8]} 50 %"
    browser.find_element(By.CSS_SELECTOR, f"{row} a").click()
    primary = f'tr[data-job-id="{ten["id"]}"]'
    assert until(browser, lambda b: text(b, f"{primary} .role") == "target (primary)")
    assert text(browser, f"{primary} .traffic") == "75.0 %"
    # Counters reach the report within a second; the page polls until all 20 are in.
    requests_shown = lambda b: sum(  # noqa: E731
        int(r.text) for r in b.find_elements(By.CSS_SELECTOR, 'tr[data-role="target"] .requests')
    )
    assert until(browser, lambda b: requests_shown(b) == 20, timeout=15)
    assert text(browser, 'tr[data-role="shadow"] .traffic') == "50 % mirrored"
    assert text(browser, "#verdict").startswith("No difference yet")
    snap("ui-alias")
    assert console_errors(browser) == []
