"""Warm starts (`init_from`): a job that begins from a finished job's weights, with
frozen layers, checked before it is queued (real worker, real Keras)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from tests.helpers import example, finished_job, quick_sum, submit, training

pytestmark = pytest.mark.integration


def digits(**changes: Any) -> dict[str, Any]:
    spec = example("digits")
    spec["fit"].update(epochs=2, early_stopping=None)
    return {**spec, **changes}


def weights(client: Any, job_id: str, tmp_path: Path) -> dict[str, list[np.ndarray]]:
    """A finished job's Keras model, downloaded as a client would: weights by layer."""
    response = client.get(f"/v1/models/{job_id}/artifacts/model.keras")
    assert response.status_code == 200
    path = tmp_path / f"{job_id}.keras"
    path.write_bytes(response.get_data())
    assert zipfile.is_zipfile(io.BytesIO(response.get_data()))
    model = keras.models.load_model(path, compile=False)
    return {layer.name: layer.get_weights() for layer in model.layers}


def test_a_warm_started_job_begins_where_its_source_ended(client: Any, trained: Any) -> None:
    source = trained("digits")
    job = finished_job(client, submit(client, digits(init_from={"job_id": source["id"]})))
    assert job["status"] == "finished", job["error"]
    assert job["init_from"] == source["id"]
    # The same data, seed and fit: only the starting weights differ.
    assert job["history"]["loss"][0] < source["history"]["loss"][0] / 2
    assert job["metrics"]["accuracy"] >= 0.95


def test_a_new_head_on_frozen_layers_keeps_their_weights(
    client: Any, trained: Any, tmp_path: Path
) -> None:
    source = trained("digits")
    client.put("/v1/aliases/warm-source", json={"job_id": source["id"]})
    spec = digits(init_from={"job_id": "warm-source", "layers": ["dense"], "freeze": ["dense"]})
    spec["model"]["layers"][1] = {
        "type": "Dense",
        "units": 10,
        "activation": "softmax",
        "name": "head",
    }
    job = finished_job(client, submit(client, spec))
    assert job["status"] == "finished", job["error"]
    assert job["init_from"] == source["id"]  # the alias, resolved when it was queued

    ours, theirs = weights(client, job["id"], tmp_path), weights(client, source["id"], tmp_path)
    for mine, its in zip(ours["dense"], theirs["dense"], strict=True):
        np.testing.assert_array_equal(mine, its)  # frozen: not trained
    assert not np.allclose(ours["head"][0], theirs["dense_1"][0])  # a new head, trained
    summary = client.get(f"/v1/models/{job['id']}/summary").get_json()
    assert summary["non_trainable_params"] == 64 * 512 + 512
    assert summary["trainable_params"] == 512 * 10 + 10


@pytest.mark.parametrize(
    ("init_from", "path", "words"),
    [
        ({"layers": ["dense", "nope"]}, "init_from.layers[1]", "no layer 'nope'"),
        ({"layers": ["dense"], "units": 256}, "init_from.layers[0]", "shapes [64, 256], [256]"),
        ({"freeze": ["nope"]}, "init_from.freeze[0]", "no layer 'nope'"),
        ({"job_id": "no-such-alias"}, "init_from.job_id", "No alias 'no-such-alias'"),
    ],
)
def test_an_init_from_that_cannot_apply_is_refused_naming_it(
    client: Any, trained: Any, init_from: dict[str, Any], path: str, words: str
) -> None:
    source = trained("digits")
    spec = digits()
    spec["model"]["layers"][0]["units"] = init_from.pop("units", 512)
    spec["init_from"] = {"job_id": source["id"], **init_from}
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert words in " ".join(problem["errors"][path]), problem["errors"]


def test_an_unfinished_source_is_refused_and_a_used_source_cannot_be_deleted(
    client: Any, worker: Any
) -> None:
    source = finished_job(client, submit(client, quick_sum()))
    long = quick_sum(epochs=500, init_from={"job_id": source["id"]})
    running = submit(client, long)
    training(client, running)
    # A source still training is no source.
    refused = client.post("/v1/jobs", json=quick_sum(init_from={"job_id": running}))
    assert refused.status_code == 422
    assert "is started" in " ".join(refused.get_json()["errors"]["init_from.job_id"])
    # The source of a running warm start stays while it runs.
    conflict = client.delete(f"/v1/jobs/{source['id']}")
    assert conflict.status_code == 409
    assert running in conflict.get_json()["detail"]
    client.post(f"/v1/jobs/{running}/cancel")
    assert finished_job(client, running)["status"] == "canceled"
    assert client.delete(f"/v1/jobs/{source['id']}").status_code == 204
