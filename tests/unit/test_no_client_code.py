"""No code from a client runs: specs name only allow-listed Keras objects, IDs in paths
cannot leave the artifact store, and saved models load in Keras's safe mode."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import keras
import pytest

from service.app import create_app
from service.config import Settings
from service.errors import InvalidSpec
from service.ml.artifacts import ArtifactStore
from service.ml.export import build_export
from service.schemas.spec import load_spec
from tests.helpers import example, free_port


def spec_with_layer(layer: dict[str, Any]) -> dict[str, Any]:
    spec = example("sum_of_two")
    spec["model"]["layers"][0] = layer
    return spec


def refused(raw: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(InvalidSpec) as caught:
        load_spec(raw)
    return caught.value.errors


@pytest.mark.parametrize("layer_type", ["Lambda", "TFSMLayer", "keras.layers.Lambda", "Layer"])
def test_code_carrying_layer_types_are_refused(layer_type: str) -> None:
    errors = refused(spec_with_layer({"type": layer_type, "function": "lambda x: x"}))
    assert "Unknown layer type" in errors["model.layers[0].type"][0]


@pytest.mark.parametrize(
    "activation",
    [
        "os.system",
        {"class_name": "Lambda", "config": {"function": "print"}},
        {"module": "builtins", "class_name": "eval", "config": {}},
    ],
)
def test_activations_are_names_from_the_catalog_only(activation: Any) -> None:
    errors = refused(spec_with_layer({"type": "Dense", "units": 4, "activation": activation}))
    assert list(errors) == ["model.layers[0].activation"]


def test_a_keras_model_config_is_not_a_spec() -> None:
    config = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).get_config()
    errors = refused({"model": config, "compile": {"loss": "mse"}, "data": {"dataset": "digits"}})
    # Keras's {"class_name": ..., "config": ...} layers are not deserialized: each is
    # refused for naming no allow-listed type.
    assert set(errors) >= {"model.input_shape", "model.layers[0].type", "model.layers[1].type"}


@pytest.fixture(scope="module")
def store_and_http(tmp_path_factory: pytest.TempPathFactory) -> tuple[ArtifactStore, Any]:
    root = tmp_path_factory.mktemp("artifacts")
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        artifact_root=str(root),
        redis_timeout_s=0.5,
    )
    return ArtifactStore(str(root)), create_app(settings).test_client()


def test_a_stored_model_with_a_lambda_is_never_deserialized(tmp_path: Path) -> None:
    # Only the worker writes artifacts; if someone planted a model whose Lambda carries
    # code, converting it for serving loads it in safe mode, which refuses it instead of
    # running it (API processes serve ONNX graphs only: they never load a Keras file).
    store, job_id = ArtifactStore(tmp_path), str(uuid.uuid4())
    planted = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    store.save(job_id, planted, {})
    with pytest.raises(ValueError, match="safe_mode"):
        build_export(store.model_path(job_id), "onnx", tmp_path)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/..%2F..%2Fetc%2Fpasswd/summary",
        "/v1/models/%2e%2e/predict",
        "/v1/jobs/..%2Fartifacts",
        "/v2/models/..%2F..%2F/ready",
    ],
)
def test_ids_in_paths_cannot_reach_outside_the_store(
    store_and_http: tuple[ArtifactStore, Any], path: str
) -> None:
    _, http = store_and_http
    response = http.post(path, json={"instances": [[1.0]]}) if "predict" in path else http.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "passwd" not in str(response.get_json().get("errors", ""))
