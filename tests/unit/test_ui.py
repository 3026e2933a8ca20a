"""The dashboard's pages and assets: public even with API keys (they carry no data; the
data comes from the API, which still needs a key), and served with a strict CSP."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from service.app import create_app
from tests.helpers import offline_settings

KEY = "reader-key-0123456789"


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = offline_settings(
        tmp_path_factory,
        api_keys=f"{KEY}:read",
    )
    return create_app(settings).test_client()


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/ui", "text/html"),
        (f"/ui/jobs/{uuid.uuid4()}", "text/html"),
        ("/ui/static/job.js", "text/javascript"),
        ("/ui/static/style.css", "text/css"),
    ],
)
def test_pages_and_assets_need_no_key(http: Any, path: str, mimetype: str) -> None:
    response = http.get(path)
    assert response.status_code == 200
    assert response.mimetype == mimetype


def test_the_data_behind_the_pages_still_needs_a_key(http: Any) -> None:
    assert http.get("/v1/jobs").status_code == 401


def test_pages_run_only_their_own_scripts(http: Any) -> None:
    response = http.get("/ui")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert '<script type="module" src="/ui/static/jobs.js">' in response.get_data(as_text=True)


def test_the_job_page_carries_only_its_job_id(http: Any) -> None:
    job_id = str(uuid.uuid4())
    page = http.get(f"/ui/jobs/{job_id}").get_data(as_text=True)
    assert f'data-job-id="{job_id}"' in page


@pytest.mark.parametrize(
    "path", ["/ui/jobs/<script>", "/ui/static/../routes/ui.py", "/ui/static/%2e%2e/app.py"]
)
def test_other_paths_under_ui_are_404(http: Any, path: str) -> None:
    assert http.get(path).status_code == 404
