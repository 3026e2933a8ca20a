"""The job lifecycle over HTTP with a real worker: live progress, listing, conflicts,
failures reported as problems."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.helpers import example, finished_job, wait_until
from tests.openapi_support import schema_errors

pytestmark = pytest.mark.integration


def submit(client: Any, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def long_digits(epochs: int) -> dict[str, Any]:
    spec = example("digits")
    spec["fit"].update(epochs=epochs, early_stopping=None)
    spec["name"] = f"digits-{epochs}"
    return spec


def test_history_grows_live_one_epoch_at_a_time(client: Any, worker: Any) -> None:
    job = submit(client, long_digits(40))

    def mid_training() -> dict[str, Any] | None:
        seen = client.get(f"/v1/jobs/{job['id']}").get_json()
        return seen if seen["status"] == "started" and 0 < seen["progress"]["epoch"] < 40 else None

    seen = wait_until(mid_training, timeout=120)
    epoch = seen["progress"]["epoch"]
    assert seen["progress"]["fraction"] == pytest.approx(epoch / 40, abs=1e-3)
    assert len(seen["history"]["loss"]) == epoch
    assert seen["started_at"] is not None
    assert seen["ended_at"] is None
    assert seen["metrics"] is None
    assert schema_errors(seen, "Job") == []

    done = finished_job(client, job["id"])
    assert done["status"] == "finished"
    assert len(done["history"]["val_loss"]) == 40
    assert done["created_at"] <= done["started_at"] <= done["ended_at"]


def test_predict_and_summary_answer_409_until_the_job_has_finished(
    client: Any, worker: Any
) -> None:
    job = submit(client, long_digits(15))
    response = client.post(job["links"]["predict"], json={"instances": [[0] * 64]})
    assert response.status_code == 409
    problem = response.get_json()
    assert schema_errors(problem, "Problem") == []
    assert problem["job_status"] in ("queued", "started")
    assert f"is {problem['job_status']}" in problem["detail"]
    assert client.get(job["links"]["summary"]).status_code == 409
    assert finished_job(client, job["id"])["status"] == "finished"
    assert client.get(job["links"]["summary"]).status_code == 200


def test_unknown_jobs_are_404_everywhere(client: Any, worker: Any) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/v1/jobs/{missing}").status_code == 404
    assert (
        client.post(f"/v1/models/{missing}/predict", json={"instances": [[1]]}).status_code == 404
    )
    assert client.get(f"/v1/models/{missing}/summary").status_code == 404


def test_a_diverging_job_fails_with_an_actionable_error(client: Any, worker: Any) -> None:
    spec = example("sum_of_two")
    spec["compile"]["optimizer"] = {"type": "sgd", "learning_rate": 100.0}
    job = finished_job(client, submit(client, spec)["id"])
    assert job["status"] == "failed"
    assert schema_errors(job, "Job") == []
    error = job["error"]
    assert error["type"] == "/problems/training-diverged"
    assert "smaller learning rate" in error["detail"]
    assert "Traceback" not in json.dumps(job)
    assert job["metrics"] is None
    # A failed job never gets a model.
    response = client.post(job["links"]["predict"], json={"instances": [[1, 2]]})
    assert response.status_code == 409
    assert response.get_json()["job_status"] == "failed"


def test_jobs_are_listed_newest_first_and_filtered_by_status(client: Any, worker: Any) -> None:
    first = submit(client, {**example("sum_of_two"), "name": "list-a"})
    second = submit(client, {**example("sum_of_two"), "name": "list-b"})
    listing = client.get("/v1/jobs?limit=100").get_json()
    assert all(schema_errors(j, "Job") == [] for j in listing["jobs"])
    listed = [j["id"] for j in listing["jobs"]]
    assert listed.index(second["id"]) < listed.index(first["id"])
    assert client.get("/v1/jobs?limit=1").get_json()["jobs"][0]["id"] == second["id"]

    finished_job(client, second["id"])
    finished = client.get("/v1/jobs?status=finished&limit=100").get_json()["jobs"]
    assert second["id"] in [j["id"] for j in finished]
    assert {j["status"] for j in finished} == {"finished"}


def test_a_spec_that_does_not_fit_its_data_is_refused_and_nothing_is_queued(
    client: Any, worker: Any
) -> None:
    before = client.get("/v1/jobs?limit=100").get_json()["jobs"]
    spec = copy.deepcopy(example("digits"))
    spec["model"]["layers"][-1]["units"] = 5
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 422
    assert "model.layers[1].units" in response.get_json()["errors"]
    assert client.get("/v1/jobs?limit=100").get_json()["jobs"] == before


def test_inline_data_trains_and_predicts(client: Any, worker: Any) -> None:
    # y = 2a - b, learnt by a single linear unit from 40 inline rows.
    rows = [[a, b] for a in range(-4, 4) for b in range(-2, 3)]
    spec = {
        "name": "inline-linear",
        "model": {"input_shape": [2], "layers": [{"type": "Dense", "units": 1}]},
        "compile": {"optimizer": {"type": "adam", "learning_rate": 0.1}, "loss": "mse"},
        "fit": {"epochs": 150, "batch_size": 8},
        "data": {"x": rows, "y": [2 * a - b for a, b in rows], "test": {"x": [[3, 1]], "y": [5]}},
    }
    job = finished_job(client, submit(client, spec)["id"])
    assert job["status"] == "finished", job["error"]
    assert job["metrics"]["loss"] < 0.05
    [[prediction]] = client.post(job["links"]["predict"], json={"instances": [[1, 1]]}).get_json()[
        "predictions"
    ]
    assert prediction == pytest.approx(1.0, abs=0.2)


def test_predict_names_the_instance_with_the_wrong_shape(client: Any, worker: Any) -> None:
    job = finished_job(client, submit(client, example("sum_of_two"))["id"])
    response = client.post(job["links"]["predict"], json={"instances": [[1, 2], [1, 2, 3]]})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "instances[1]": ["Expected shape [2] (the model's input shape). Received: [3]."]
    }
    response = client.post(job["links"]["predict"], json={"instances": [[1, "two"]]})
    assert response.status_code == 422
    assert "instances[0]" in response.get_json()["errors"]
