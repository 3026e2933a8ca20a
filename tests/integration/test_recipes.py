"""The three seed recipes, end to end: HTTP -> Redis -> worker -> Keras -> artifacts ->
predict and summary. They must learn, not just finish."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from service.ml.datasets import builtin_arrays
from tests.helpers import example, finished_job
from tests.openapi_support import schema_errors

pytestmark = pytest.mark.integration


def test_submitting_answers_202_with_the_queued_job(client: Any, worker: Any) -> None:
    response = client.post("/v1/jobs", json=example("sum_of_two"))
    assert response.status_code == 202
    job = response.get_json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued"
    assert schema_errors(job, "Job") == []
    assert schema_errors(finished_job(client, job["id"]), "Job") == []


def test_digits_recipe_reaches_95_percent_test_accuracy(client: Any, trained: Any) -> None:
    job = trained("digits")
    assert job["metrics"]["accuracy"] >= 0.95
    assert job["result"]["evaluated_on"] == "test"
    # Early stopping may end before 20 epochs; every logged quantity has one value per epoch.
    epochs = job["result"]["epochs_run"]
    assert 1 <= epochs <= 20
    assert {k: len(v) for k, v in job["history"].items()} == dict.fromkeys(
        ["accuracy", "loss", "val_accuracy", "val_loss"], epochs
    )
    assert job["progress"] == {"epoch": epochs, "epochs": 20, "fraction": 1.0}

    summary = client.get(job["links"]["summary"]).get_json()
    assert schema_errors(summary, "ModelSummary") == []
    assert [layer["params"] for layer in summary["layers"]] == [33_280, 5_130]
    assert summary["total_params"] == 38_410

    # The served model classifies real digits the way its labels say.
    x, y = builtin_arrays("digits", 0, 0)
    response = client.post(job["links"]["predict"], json={"instances": x[:200].tolist()})
    assert schema_errors(response.get_json(), "PredictResponse") == []
    predictions = np.array(response.get_json()["predictions"])
    assert predictions.shape == (200, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, atol=1e-4)  # softmax rows
    assert (predictions.argmax(axis=1) == y[:200]).mean() >= 0.95


def test_digits_binary_recipe_reaches_99_percent(client: Any, trained: Any) -> None:
    job = trained("digits_binary")
    assert job["metrics"]["accuracy"] >= 0.99
    summary = client.get(job["links"]["summary"]).get_json()
    assert [layer["params"] for layer in summary["layers"]] == [64 * 25 + 25, 25 * 15 + 15, 15 + 1]


def test_sum_of_two_recipe_adds_ten_and_two(client: Any, trained: Any) -> None:
    job = trained("sum_of_two")
    assert job["metrics"]["mae"] < 1.0
    response = client.post(job["links"]["predict"], json={"instances": [[10, 2]]})
    [[twelve]] = response.get_json()["predictions"]
    assert abs(twelve - 12) <= 1.0
