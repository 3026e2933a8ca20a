"""Served predictions equal Keras's own `model.predict` (max abs difference <= 1e-5),
for every layer family and activation, through the real save/load path."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from service.ml.artifacts import ArtifactStore
from service.ml.builder import adapt_normalization, build_model
from service.ml.catalog import ACTIVATIONS
from service.ml.forward import ACTIVATIONS as NUMPY_ACTIVATIONS
from service.ml.predictor import load_predictor

RNG = np.random.default_rng(0)

FAMILIES: dict[str, tuple[dict[str, Any], str]] = {
    "dense": (
        {
            "input_shape": [6],
            "layers": [
                {"type": "Dense", "units": 16, "activation": "relu"},
                {"type": "Dropout", "rate": 0.3},
                {"type": "Dense", "units": 3, "activation": "softmax"},
            ],
        },
        "numpy",
    ),
    "normalization": (
        {
            "input_shape": [6],
            "layers": [
                {"type": "Normalization"},
                {"type": "Dense", "units": 8},
                {"type": "BatchNormalization"},
                {"type": "Activation", "activation": "tanh"},
                {"type": "LayerNormalization"},
                {"type": "Dense", "units": 2},
            ],
        },
        "numpy",
    ),
    "reshape": (
        {
            "input_shape": [6],
            "layers": [
                {"type": "Reshape", "target_shape": [3, 2]},
                {"type": "Dense", "units": 4},
                {"type": "Flatten"},
                {"type": "Dense", "units": 1, "activation": "sigmoid"},
            ],
        },
        "numpy",
    ),
    "conv1d": (
        {
            "input_shape": [12, 2],
            "layers": [
                {
                    "type": "Conv1D",
                    "filters": 4,
                    "kernel_size": 3,
                    "padding": "causal",
                    "activation": "relu",
                },
                {"type": "MaxPooling1D"},
                {"type": "AveragePooling1D", "pool_size": 2},
                {"type": "GlobalMaxPooling1D"},
                {"type": "Dense", "units": 2},
            ],
        },
        "tensorflow",
    ),
    "conv2d": (
        {
            "input_shape": [8, 8, 1],
            "layers": [
                {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
                {"type": "BatchNormalization"},
                {"type": "MaxPooling2D"},
                {"type": "AveragePooling2D", "pool_size": 1},
                {"type": "GlobalAveragePooling2D"},
                {"type": "Dense", "units": 3, "activation": "softmax"},
            ],
        },
        "tensorflow",
    ),
    "embedding": (
        {
            "input_shape": [5],
            "layers": [
                {"type": "Embedding", "input_dim": 20, "output_dim": 4},
                {"type": "GlobalAveragePooling1D"},
                {"type": "Dense", "units": 1},
            ],
        },
        "tensorflow",
    ),
    "simple_rnn": (
        {
            "input_shape": [7, 3],
            "layers": [{"type": "SimpleRNN", "units": 5}, {"type": "Dense", "units": 2}],
        },
        "tensorflow",
    ),
    "lstm": (
        {
            "input_shape": [7, 3],
            "layers": [
                {"type": "LSTM", "units": 5, "return_sequences": True},
                {"type": "GlobalMaxPooling1D"},
                {"type": "Dense", "units": 2},
            ],
        },
        "tensorflow",
    ),
    "gru": (
        {
            "input_shape": [7, 3],
            "layers": [{"type": "GRU", "units": 5}, {"type": "Dense", "units": 2}],
        },
        "tensorflow",
    ),
}


def inputs_for(model_spec: dict[str, Any], rows: int = 32) -> np.ndarray:
    shape = (rows, *model_spec["input_shape"])
    if model_spec["layers"][0]["type"] == "Embedding":  # token indices
        return RNG.integers(0, model_spec["layers"][0]["input_dim"], size=shape).astype(np.float32)
    return RNG.normal(size=shape).astype(np.float32)


def trained_and_reloaded(
    model_spec: dict[str, Any], tmp_path: Path
) -> tuple[keras.Model, Any, np.ndarray]:
    """A model briefly trained (so normalization statistics are not their defaults),
    saved as a job's artifacts and loaded back the way /predict loads it."""
    keras.utils.set_random_seed(0)
    model = build_model(model_spec)
    x = inputs_for(model_spec)
    adapt_normalization(model, x)
    model.compile("adam", "mse")
    model.fit(x, RNG.normal(size=(len(x), *model.output_shape[1:])), epochs=2, verbose=0)
    store, job_id = ArtifactStore(tmp_path), str(uuid.uuid4())
    store.save(job_id, model, {})
    return model, load_predictor(store.model_path(job_id)), x


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_predictions_equal_keras_predict(family: str, tmp_path: Path) -> None:
    model_spec, backend = FAMILIES[family]
    model, predictor, x = trained_and_reloaded(model_spec, tmp_path)
    assert predictor.backend == backend
    ours = predictor.predict(x)
    assert ours.dtype == np.float32
    assert np.abs(ours - model.predict(x, verbose=0)).max() <= 1e-5
    assert np.abs(predictor.predict(x[:1]) - model.predict(x[:1], verbose=0)).max() <= 1e-5


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_equals_keras_in_numpy(activation: str, tmp_path: Path) -> None:
    model_spec = {
        "input_shape": [6],
        "layers": [
            {"type": "Dense", "units": 8, "activation": activation},
            {"type": "Dense", "units": 3, "activation": activation},
        ],
    }
    model, predictor, x = trained_and_reloaded(model_spec, tmp_path)
    assert predictor.backend == "numpy"
    assert np.abs(predictor.predict(x) - model.predict(x, verbose=0)).max() <= 1e-5


def test_numpy_activations_cover_the_catalog() -> None:
    assert set(ACTIVATIONS) <= set(NUMPY_ACTIVATIONS)


def test_normalizing_another_axis_falls_back_to_tensorflow(tmp_path: Path) -> None:
    spec = {
        "input_shape": [4, 3],
        "layers": [
            {"type": "LayerNormalization", "axis": 1},
            {"type": "Flatten"},
            {"type": "Dense", "units": 2},
        ],
    }
    model, predictor, x = trained_and_reloaded(spec, tmp_path)
    assert predictor.backend == "tensorflow"
    assert np.abs(predictor.predict(x) - model.predict(x, verbose=0)).max() <= 1e-5
