"""/docs: Swagger UI from the installed package, public even with API keys, referring
only to this app's files (no CDN) and refusing paths outside its folders."""

from __future__ import annotations

import re
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


def test_the_page_needs_no_key_and_names_the_spec_it_renders(http: Any) -> None:
    response = http.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    [spec_url] = re.findall(r'data-spec-url="([^"]+)"', response.get_data(as_text=True))
    described = http.get(spec_url)
    assert described.status_code == 200
    assert described.get_json()["openapi"].startswith("3.1")


def test_every_file_the_page_loads_is_served_by_the_app_without_a_key(http: Any) -> None:
    page = http.get("/docs").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all(url.startswith("/") for url in urls), urls  # nothing from a CDN
    for url in urls:
        assert http.get(url).status_code == 200, url


def test_the_page_runs_only_its_own_scripts(http: Any) -> None:
    response = http.get("/docs")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "<script>" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/docs/nothing.js",
        "/docs/../auth.py",
        "/docs/%2e%2e/routes/docs.py",
        "/docs/",
        "/docs//etc/passwd",
    ],
)
def test_paths_outside_the_asset_folders_are_404(http: Any, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
