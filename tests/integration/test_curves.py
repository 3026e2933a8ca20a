"""Training curves and diagnosis over HTTP with a real worker: recipes built to overfit,
to not learn and to diverge are diagnosed so, and every job's history draws as SVG and
PNG, while it waits or runs and after it has ended."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis

from service.config import Settings
from service.schemas.spec import load_spec
from service.store.jobs import JobQueue
from tests.helpers import example, finished_job

pytestmark = pytest.mark.integration

PNG, SVG = "image/png", "image/svg+xml"


def trained_job(client: Any, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    return finished_job(client, response.get_json()["id"])


def digits(name: str, **fit: Any) -> dict[str, Any]:
    spec = copy.deepcopy(example("digits"))
    spec["name"] = name
    spec["fit"].update(early_stopping=None, **fit)
    return spec


def test_the_digits_recipe_is_ok_because_early_stopping_kept_its_best_epoch(
    trained: Any,
) -> None:
    job = trained("digits")
    assert job["diagnosis"]["kind"] == "ok"
    if job["result"]["epochs_run"] < 20:  # stopped early: the hint says which epoch it kept
        assert f"kept epoch {job['result']['best_epoch']}" in job["diagnosis"]["hint"]


def noisy_rows(rows: int = 120, features: int = 20) -> tuple[list, list]:
    """Rows whose label is the sign of the first feature plus as much noise: a model
    can only learn half of it, and memorizes the rest."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, features))
    y = (x[:, 0] + rng.normal(size=rows) > 0).astype(int)
    return x.round(3).tolist(), y.tolist()


def test_a_big_net_on_a_few_noisy_rows_overfits(client: Any, worker: Any) -> None:
    # 60 training rows, 2 x 256 units, no early stopping: the training loss goes to ~0
    # while validation loss climbs from its best early epoch.
    x, y = noisy_rows()
    spec = {
        "name": "overfit",
        "model": {
            "input_shape": [20],
            "layers": [
                {"type": "Dense", "units": 256, "activation": "relu"},
                {"type": "Dense", "units": 256, "activation": "relu"},
                {"type": "Dense", "units": 1, "activation": "sigmoid"},
            ],
        },
        "compile": {
            "optimizer": {"type": "adam", "learning_rate": 0.003},
            "loss": "binary_crossentropy",
        },
        "fit": {"epochs": 20, "batch_size": 16, "validation_split": 0.5, "seed": 0},
        "data": {"x": x, "y": y, "test_fraction": 0},
    }
    job = trained_job(client, spec)
    assert job["status"] == "finished"
    diagnosis = job["diagnosis"]
    assert diagnosis["kind"] == "overfitting", diagnosis
    best = diagnosis["best_epoch"]
    assert diagnosis["began_at_epoch"] == best + 1
    assert diagnosis["epochs_past_best"] == 20 - best
    assert job["history"]["val_loss"][best - 1] == min(job["history"]["val_loss"])
    assert diagnosis["val_loss_excess"] > 0.5 * diagnosis["best_val_loss"]
    assert f"kept epoch {best}" in diagnosis["hint"]


def test_a_vanishing_learning_rate_is_not_learning(client: Any, worker: Any) -> None:
    spec = digits("not-learning", epochs=4)
    spec["compile"]["optimizer"] = {"type": "sgd", "learning_rate": 1e-7}
    job = trained_job(client, spec)
    assert job["status"] == "finished"
    assert job["diagnosis"]["kind"] == "not_learning", job["diagnosis"]
    assert job["diagnosis"]["baseline_loss"] == pytest.approx(2.30, abs=0.01)  # ln 10


def test_a_diverged_job_is_diagnosed_and_its_chart_still_draws(client: Any, worker: Any) -> None:
    spec = example("sum_of_two")
    spec["compile"]["optimizer"] = {"type": "sgd", "learning_rate": 100.0}
    job = trained_job(client, spec)
    assert job["status"] == "failed"
    assert job["diagnosis"]["kind"] == "diverged"
    assert job["history"]["loss"][job["diagnosis"]["epoch"] - 1] is None
    response = client.get(f"/v1/jobs/{job['id']}/history.png")
    assert response.status_code == 200
    assert response.mimetype == PNG


def test_a_finished_jobs_chart_is_cacheable_and_revalidates_to_304(
    client: Any, trained: Any
) -> None:
    job = trained("digits")
    for fmt, mimetype in (("png", PNG), ("svg", SVG)):
        response = client.get(f"/v1/jobs/{job['id']}/history.{fmt}")
        assert response.status_code == 200
        assert response.mimetype == mimetype
        assert response.cache_control.max_age > 0
        tag, weak = response.get_etag()
        assert weak
        again = client.get(response.request.path, headers={"If-None-Match": f'W/"{tag}"'})
        assert again.status_code == 304
        assert again.data == b""
    assert response.data.lstrip().startswith(b"<?xml")
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("job_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid"])
def test_the_chart_of_an_unknown_job_is_404(client: Any, job_id: str) -> None:
    for fmt in ("png", "svg"):
        response = client.get(f"/v1/jobs/{job_id}/history.{fmt}")
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


@pytest.fixture
def idle_job(settings: Settings) -> Iterator[tuple[JobQueue, str]]:
    """A job queued where no worker looks, so it stays queued for the test to shape."""
    jobs = JobQueue(
        redis.Redis.from_url(settings.redis_url),
        dataclasses.replace(settings, queue_name="curves-test-idle"),
    )
    record, _ = jobs.submit(load_spec(example("digits"), settings))
    yield jobs, record.id
    jobs.delete(record.id)


def test_a_job_without_epochs_draws_a_placeholder_that_is_never_cached(
    client: Any, idle_job: tuple[JobQueue, str]
) -> None:
    _, job_id = idle_job
    assert client.get(f"/v1/jobs/{job_id}").get_json()["diagnosis"] is None
    response = client.get(f"/v1/jobs/{job_id}/history.png")
    assert response.status_code == 200
    assert response.mimetype == PNG
    assert response.cache_control.no_cache


def test_a_running_jobs_chart_changes_with_each_epoch(
    client: Any, idle_job: tuple[JobQueue, str]
) -> None:
    jobs, job_id = idle_job
    job = jobs.queues["default"].fetch_job(job_id)
    url = f"/v1/jobs/{job_id}/history.svg"
    tags = []
    for epoch in (1, 2):
        job.meta.update(epoch=epoch, history={"loss": [1.0, 0.5][:epoch]})
        job.save_meta()
        response = client.get(url)
        assert response.status_code == 200
        assert response.cache_control.no_cache
        tags.append(response.get_etag()[0])
    assert tags[0] != tags[1]
    assert client.get(url, headers={"If-None-Match": f'W/"{tags[1]}"'}).status_code == 304
