"""An uploaded CSV dataset, end to end: upload -> spec names it by ID and target column
-> API checks it -> worker trains on it -> the model learned what the data says."""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import pytest

from tests.helpers import example, finished_job

pytestmark = pytest.mark.integration


def sum_of_two_csv(rows: int) -> bytes:
    x = np.random.default_rng(0).uniform(0, 50, size=(rows, 2)).round(3)
    lines = ["a,b,sum", *(f"{a},{b},{a + b:.3f}" for a, b in x)]
    return "\n".join(lines).encode()


@pytest.fixture(scope="module")
def dataset_id(app: Any) -> str:
    response = app.test_client().post(
        "/v1/datasets", data=sum_of_two_csv(500), content_type="text/csv"
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def spec_on(dataset_id: str, target: str = "sum") -> dict[str, Any]:
    spec = example("sum_of_two")
    spec["data"] = {"dataset_id": dataset_id, "target": target, "test_fraction": 0.2}
    spec["fit"]["epochs"] = 60
    return spec


def test_a_model_trained_on_an_uploaded_csv_learns_to_add(
    client: Any, worker: Any, dataset_id: str
) -> None:
    assert client.get(f"/v1/datasets/{dataset_id}").get_json()["rows"] == 500
    response = client.post("/v1/jobs", json=spec_on(dataset_id))
    assert response.status_code == 202, response.get_json()
    job = finished_job(client, response.get_json()["id"])
    assert job["status"] == "finished", job["error"]
    assert job["result"]["evaluated_on"] == "test"

    answer = client.post(job["links"]["predict"], json={"instances": [[10, 2]]}).get_json()
    assert abs(answer["predictions"][0][0] - 12) < 1.5


def test_an_unknown_dataset_or_column_is_a_422_before_anything_is_queued(
    client: Any, dataset_id: str
) -> None:
    response = client.post("/v1/jobs", json=spec_on(str(uuid.uuid4())))
    assert response.status_code == 422
    assert "data.dataset_id" in response.get_json()["errors"]

    response = client.post("/v1/jobs", json=spec_on(dataset_id, target="total"))
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["data.target"]
    assert message.endswith("Its columns: a, b, sum.")


def test_datasets_are_listed_and_deleted_but_not_while_a_job_will_train_on_them(
    settings: Any,
) -> None:
    from dataclasses import replace

    from service.app import create_app

    # A queue no worker serves: the job stays queued while the dataset is deleted.
    idle = create_app(replace(settings, queue_name=f"idle-{uuid.uuid4().hex[:8]}"))
    client = idle.test_client()
    uploaded = client.post("/v1/datasets", data=sum_of_two_csv(50), content_type="text/csv")
    dataset_id = uploaded.get_json()["id"]
    listed = client.get("/v1/datasets").get_json()["datasets"]
    assert listed[0]["id"] == dataset_id  # newest first
    job_id = client.post("/v1/jobs", json=spec_on(dataset_id)).get_json()["id"]

    refused = client.delete(f"/v1/datasets/{dataset_id}")
    assert refused.status_code == 409
    assert job_id in refused.get_json()["detail"]
    client.post(f"/v1/jobs/{job_id}/cancel")
    assert client.delete(f"/v1/datasets/{dataset_id}").status_code == 204
    assert client.get(f"/v1/datasets/{dataset_id}").status_code == 404
    assert dataset_id not in [d["id"] for d in client.get("/v1/datasets").get_json()["datasets"]]
    assert client.delete(f"/v1/datasets/{dataset_id}").status_code == 404


def test_old_datasets_expire_unless_a_job_will_train_on_them(settings: Any, tmp_path: Any) -> None:
    from dataclasses import replace

    from service.app import create_app
    from service.store import connect
    from worker.main import expire_datasets

    mine = replace(
        settings,
        queue_name=f"idle-{uuid.uuid4().hex[:8]}",
        artifact_root=str(tmp_path),  # its own datasets only: others' are as old
        dataset_ttl_s=1,
    )
    client = create_app(mine).test_client()
    kept, gone = (
        client.post("/v1/datasets", data=sum_of_two_csv(50), content_type="text/csv").get_json()
        for _ in range(2)
    )
    client.post("/v1/jobs", json=spec_on(kept["id"]))
    time.sleep(1.1)
    removed = expire_datasets(mine, connect(mine))
    assert gone["id"] in removed
    assert kept["id"] not in removed
    assert client.get(f"/v1/datasets/{kept['id']}").status_code == 200
    assert client.get(f"/v1/datasets/{gone['id']}").status_code == 404
