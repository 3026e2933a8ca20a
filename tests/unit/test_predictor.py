"""Served predictions (ONNX Runtime, on the model's ONNX form written at training
time) equal Keras's own `model.predict` within 1e-5, for every layer family and
activation of the allow-list, through the real save/load path."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from service.ml.artifacts import ONNX_FILE, ArtifactStore
from service.ml.builder import build_model
from service.ml.catalog import ACTIVATIONS
from service.ml.conversion import ConversionFailed, check, to_onnx
from service.ml.predictor import Predictor
from tests.models import FAMILIES, inputs_for, trained


def trained_and_reloaded(
    model_spec: dict[str, Any], tmp_path: Path
) -> tuple[keras.Model, Predictor, np.ndarray]:
    """A model trained and converted, saved as a job's artifacts as the worker saves
    them, and loaded back the way API processes load it."""
    model, onnx_model, x = trained(model_spec)
    store, job_id = ArtifactStore(tmp_path), str(uuid.uuid4())
    store.save(job_id, model, {}, files={ONNX_FILE: onnx_model})
    return model, Predictor(store.read_bytes(job_id, ONNX_FILE)), x


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_predictions_equal_keras_predict(family: str, tmp_path: Path) -> None:
    model, predictor, x = trained_and_reloaded(FAMILIES[family], tmp_path)
    assert predictor.input_shape == tuple(FAMILIES[family]["input_shape"])
    ours = predictor.predict(x)
    assert ours.dtype == np.float32
    expected = model.predict(x, verbose=0)
    assert np.allclose(ours, expected, rtol=1e-5, atol=1e-5)
    assert np.allclose(predictor.predict(x[:1]), expected[:1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_equals_keras(activation: str, tmp_path: Path) -> None:
    model_spec = {
        "input_shape": [6],
        "layers": [
            {"type": "Dense", "units": 8, "activation": activation},
            {"type": "Dense", "units": 3, "activation": activation},
        ],
    }
    model, predictor, x = trained_and_reloaded(model_spec, tmp_path)
    assert np.allclose(predictor.predict(x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_normalizing_another_axis_equals_keras(tmp_path: Path) -> None:
    spec = {
        "input_shape": [4, 3],
        "layers": [
            {"type": "LayerNormalization", "axis": 1},
            {"type": "Flatten"},
            {"type": "Dense", "units": 2},
        ],
    }
    model, predictor, x = trained_and_reloaded(spec, tmp_path)
    assert np.allclose(predictor.predict(x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_a_conversion_that_predicts_otherwise_is_refused() -> None:
    model = build_model(FAMILIES["dense"])
    x = inputs_for(FAMILIES["dense"])
    other = build_model(FAMILIES["dense"])  # same shapes, other weights
    with pytest.raises(ConversionFailed, match="does not predict as Keras does"):
        check(to_onnx(other), model, x)
