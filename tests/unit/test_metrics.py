"""The app's metrics: requests labelled by URL rule (bounded), the model cache's lookups,
and a /metrics that answers, in Prometheus's text format, even without Redis."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.config import Settings
from service.metrics import CONTENT_TYPE
from service.ml.cache import ModelCache
from tests.helpers import free_port

REQUESTS = "keras_service_http_request_duration_seconds_count"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens: Redis is down
        artifact_root=str(tmp_path_factory.mktemp("artifacts")),
        redis_timeout_s=0.5,
    )
    return create_app(settings)


def requests(route: str, method: str, status: int) -> float:
    labels = {"route": route, "method": method, "status": str(status)}
    return REGISTRY.get_sample_value(REQUESTS, labels) or 0.0


def test_requests_are_counted_by_url_rule_never_by_path(app: Flask) -> None:
    route = "/v1/models/{ref}/predict"
    before = requests(route, "POST", 415)
    for _ in range(3):
        app.test_client().post(f"/v1/models/{uuid.uuid4()}/predict", data="not JSON")
    assert requests(route, "POST", 415) == before + 3


def test_unmatched_paths_and_unknown_methods_share_bounded_labels(app: Flask) -> None:
    before = requests("unmatched", "GET", 404), requests("unmatched", "other", 405)
    app.test_client().get(f"/random/{uuid.uuid4()}")
    app.test_client().open("/v1/jobs", method=f"M{uuid.uuid4().hex[:8].upper()}")
    after = requests("unmatched", "GET", 404), requests("unmatched", "other", 405)
    assert after == (before[0] + 1, before[1] + 1)


def test_the_cache_reports_whether_each_lookup_hit() -> None:
    seen: list[bool] = []
    cache = ModelCache(lambda key: key.upper(), size=1, on_lookup=seen.append)
    assert [cache.get("a"), cache.get("a"), cache.get("b"), cache.get("a")] == ["A", "A", "B", "A"]
    assert seen == [False, True, False, False]  # "b" pushed "a" out


def test_metrics_answer_in_text_format_without_the_job_store(app: Flask) -> None:
    app.test_client().get("/healthz")
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert families["keras_service_job_store_up"].samples[0].value == 0
    assert "keras_service_jobs" not in families
    assert "keras_service_http_request_duration_seconds" in families


def test_metrics_need_a_read_key_when_keys_are_configured(tmp_path: Any) -> None:
    read_key = "r" * 16
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        artifact_root=str(tmp_path),
        api_keys=f"{read_key}:read",
    )
    app = create_app(settings)
    assert app.test_client().get("/metrics").status_code == 401
    authorized = {"Authorization": f"Bearer {read_key}"}
    assert app.test_client().get("/metrics", headers=authorized).status_code == 200
