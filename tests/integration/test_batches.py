"""Batch predictions: an uploaded CSV through a trained model on the real worker, the
predictions equal to /predict's row by row."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tests.helpers import example, finished_job, submit, wait_until

pytestmark = pytest.mark.integration

COLUMNS = [f"p{i}" for i in range(64)]


@pytest.fixture(scope="module")
def uploaded(app: Any) -> dict[str, Any]:
    """600 rows of the digits data, 64 pixel columns and the label, uploaded as CSV."""
    x, y = load_digits(return_X_y=True)
    lines = [",".join([*COLUMNS, "digit"])]
    lines += [
        ",".join(str(int(v)) for v in (*row, label)) for row, label in zip(x[:600], y, strict=False)
    ]
    response = app.test_client().post(
        "/v1/datasets", data="\n".join(lines), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 201, response.get_json()
    return {**response.get_json(), "x": x[:600].astype(np.float32)}


def ended(client: Any, batch: dict[str, Any]) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = client.get(batch["links"]["self"]).get_json()
        return found if found["status"] in ("finished", "failed", "canceled") else None

    return wait_until(done, timeout=120, interval=0.1)


def rows_of(client: Any, batch: dict[str, Any]) -> list[dict[str, str]]:
    response = client.get(batch["links"]["download"])
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_batch_prediction_equals_predict_row_by_row(
    client: Any, trained: Any, uploaded: dict[str, Any]
) -> None:
    model = trained("digits")["id"]
    response = client.post(
        f"/v1/models/{model}/batch-predictions",
        json={"dataset_id": uploaded["id"], "columns": COLUMNS, "return": "both"},
    )
    assert response.status_code == 202, response.get_json()
    batch = response.get_json()
    assert response.headers["Location"] == batch["links"]["self"]
    assert batch["progress"] == {"rows_done": 0, "rows": 600, "fraction": 0.0}

    batch = ended(client, batch)
    assert batch["status"] == "finished", batch["error"]
    assert batch["progress"]["rows_done"] == 600
    assert batch["result"]["rows"] == 600
    rows = rows_of(client, batch)
    assert [int(r["row"]) for r in rows] == list(range(600))
    predicted = client.post(
        f"/v1/models/{model}/predict",
        json={"instances": uploaded["x"].tolist(), "return": "both"},
    ).get_json()
    ours = np.array([[float(r[f"prediction_{i}"]) for i in range(10)] for r in rows])
    np.testing.assert_allclose(ours, predicted["predictions"], rtol=1e-6, atol=1e-7)
    assert [int(r["class"]) for r in rows] == predicted["classes"]


def test_the_default_columns_leave_out_the_target_the_model_learned(
    client: Any, worker: Any, uploaded: dict[str, Any]
) -> None:
    spec = example("digits")
    spec["fit"].update(epochs=3, early_stopping=None)
    spec["data"] = {"dataset_id": uploaded["id"], "target": "digit", "test_fraction": 0.2}
    model = finished_job(client, submit(client, spec))["id"]
    response = client.post(
        f"/v1/models/{model}/batch-predictions",
        json={"dataset_id": uploaded["id"], "return": "classes"},
    )
    assert response.status_code == 202, response.get_json()
    batch = ended(client, response.get_json())
    assert batch["columns"] == COLUMNS
    rows = rows_of(client, batch)
    assert list(rows[0]) == ["row", "class"]
    assert len(rows) == 600


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ({}, "columns", "takes 64 numbers a row"),  # all 65 columns: the label too
        ({"columns": [*COLUMNS[:63], "nope"]}, "columns[63]", "no column 'nope'"),
        ({"dataset_id": "7f1e7a52-1a52-4b8c-9d1c-5d3c6a0e9b11"}, "dataset_id", "No dataset"),
        ({"columns": COLUMNS, "return": "everything"}, "return", "Unknown return"),
    ],
)
def test_a_batch_that_cannot_run_is_refused_naming_the_field(
    client: Any,
    trained: Any,
    uploaded: dict[str, Any],
    body: dict[str, Any],
    path: str,
    words: str,
) -> None:
    model = trained("digits")["id"]
    response = client.post(
        f"/v1/models/{model}/batch-predictions", json={"dataset_id": uploaded["id"], **body}
    )
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert words in " ".join(errors[path]), errors


def test_a_queued_batch_is_canceled_and_has_nothing_to_download(
    client: Any, trained: Any, uploaded: dict[str, Any]
) -> None:
    model = trained("digits")["id"]
    long = example("digits")
    long["fit"].update(epochs=500, early_stopping=None)
    busy = submit(client, {**long, "queue": "high"})  # the worker is busy meanwhile
    try:
        response = client.post(
            f"/v1/models/{model}/batch-predictions",
            json={"dataset_id": uploaded["id"], "columns": COLUMNS},
        )
        batch = response.get_json()
        download = f"/v1/batch-predictions/{batch['id']}/predictions.csv"
        assert client.get(download).status_code == 409  # not finished
        canceled = client.post(f"/v1/batch-predictions/{batch['id']}/cancel")
        assert canceled.status_code == 200
        assert canceled.get_json()["status"] == "canceled"
        assert client.get(download).status_code == 409
    finally:
        client.post(f"/v1/jobs/{busy}/cancel")
        finished_job(client, busy)
