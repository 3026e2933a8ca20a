"""Serving without TensorFlow: a gunicorn process with API_ROLE=serving answers every
protocol for a model of every layer family, from the models' ONNX forms, as Keras would
(within 1e-5), without TensorFlow ever loaded in it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.ml.artifacts import ONNX_FILE, ArtifactStore
from tests.helpers import free_port, gunicorn_app
from tests.models import FAMILIES, inputs_for, trained

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A model of every family, stored as the worker stores one; and, by family, its
    job ID, some rows and what Keras predicts for them."""
    root = tmp_path_factory.mktemp("artifacts")
    models = {}
    for family, spec in FAMILIES.items():
        model, onnx_model, _ = trained(spec)
        job_id, rows = str(uuid.uuid4()), inputs_for(spec, rows=3)
        ArtifactStore(root).save(job_id, model, {}, files={ONNX_FILE: onnx_model})
        models[family] = (job_id, rows, model.predict(rows, verbose=0))
    return root, models


@pytest.fixture(scope="module")
def serving(
    stored: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    root, _ = stored
    env = {
        "API_ROLE": "serving",
        "ARTIFACT_ROOT": str(root),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # stored models need no Redis
    }
    with gunicorn_app(env, tmp_path_factory.mktemp("serving") / "gunicorn.log") as (base, proc):
        yield base, proc.pid


def post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_protocol_predicts_as_keras_from_onnx(
    serving: tuple[str, int], stored: tuple[Path, dict[str, Any]], family: str
) -> None:
    base, _ = serving
    job_id, rows, expected = stored[1][family]
    ours = post(f"{base}/v1/models/{job_id}/predict", {"instances": rows.tolist()})
    tf_serving = post(f"{base}/v1/models/{job_id}:predict", {"instances": rows.tolist()})
    v2 = post(
        f"{base}/v2/models/{job_id}/infer",
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "FP32",
                    "shape": list(rows.shape),
                    "data": rows.ravel().tolist(),
                }
            ]
        },
    )
    assert [ours[0], tf_serving[0], v2[0]] == [200, 200, 200]
    for got in (ours[1]["predictions"], tf_serving[1]["predictions"]):
        assert np.allclose(np.array(got), expected, rtol=1e-5, atol=1e-5)
    v2_out = np.array(v2[1]["outputs"][0]["data"]).reshape(expected.shape)
    assert np.allclose(v2_out, expected, rtol=1e-5, atol=1e-5)


def test_the_serving_process_never_loaded_tensorflow(
    serving: tuple[str, int], stored: tuple[Path, dict[str, Any]]
) -> None:
    base, master = serving
    for job_id, rows, _ in stored[1].values():  # every model loaded and used first
        assert post(f"{base}/v1/models/{job_id}/predict", {"instances": rows.tolist()})[0] == 200
    workers = [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == master
    ]
    assert workers
    for pid in [master, *workers]:
        mapped = Path(f"/proc/{pid}/maps").read_text()
        assert "onnxruntime" in mapped or pid == master
        assert "tensorflow" not in mapped, f"process {pid} has TensorFlow loaded"


def test_a_serving_process_mounts_only_the_model_routes(serving: tuple[str, int]) -> None:
    base, _ = serving
    assert post(f"{base}/v1/jobs", {})[0] == 404
    assert post(f"{base}/v1/summary", {})[0] == 404


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
