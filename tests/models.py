"""Small models of every layer family of the allow-list, trained briefly and converted
as the worker converts them (tests of serving and of the conversion use them)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from service.ml.builder import adapt_normalization, build_model
from service.ml.conversion import convert

RNG = np.random.default_rng(0)

FAMILIES: dict[str, dict[str, Any]] = {
    "dense": {
        "input_shape": [6],
        "layers": [
            {"type": "Dense", "units": 16, "activation": "relu"},
            {"type": "Dropout", "rate": 0.3},
            {"type": "Dense", "units": 3, "activation": "softmax"},
        ],
    },
    "normalization": {
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
    "reshape": {
        "input_shape": [6],
        "layers": [
            {"type": "Reshape", "target_shape": [3, 2]},
            {"type": "Dense", "units": 4},
            {"type": "Flatten"},
            {"type": "Dense", "units": 1, "activation": "sigmoid"},
        ],
    },
    "conv1d": {
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
    "conv2d": {
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
    "embedding": {
        "input_shape": [5],
        "layers": [
            {"type": "Embedding", "input_dim": 20, "output_dim": 4},
            {"type": "GlobalAveragePooling1D"},
            {"type": "Dense", "units": 1},
        ],
    },
    "simple_rnn": {
        "input_shape": [7, 3],
        "layers": [{"type": "SimpleRNN", "units": 5}, {"type": "Dense", "units": 2}],
    },
    "lstm": {
        "input_shape": [7, 3],
        "layers": [
            {"type": "LSTM", "units": 5, "return_sequences": True},
            {"type": "GlobalMaxPooling1D"},
            {"type": "Dense", "units": 2},
        ],
    },
    "gru": {
        "input_shape": [7, 3],
        "layers": [{"type": "GRU", "units": 5}, {"type": "Dense", "units": 2}],
    },
}


def inputs_for(model_spec: dict[str, Any], rows: int = 32) -> np.ndarray:
    shape = (rows, *model_spec["input_shape"])
    if model_spec["layers"][0]["type"] == "Embedding":  # token indices
        return RNG.integers(0, model_spec["layers"][0]["input_dim"], size=shape).astype(np.float32)
    return RNG.normal(size=shape).astype(np.float32)


def trained(model_spec: dict[str, Any]) -> tuple[keras.Model, bytes, np.ndarray]:
    """A model briefly trained (so normalization statistics are not their defaults),
    its checked ONNX form, and the rows it was trained on."""
    keras.utils.set_random_seed(0)
    model = build_model(model_spec)
    x = inputs_for(model_spec)
    adapt_normalization(model, x)
    model.compile("adam", "mse")
    model.fit(x, RNG.normal(size=(len(x), *model.output_shape[1:])), epochs=2, verbose=0)
    return model, convert(model, x), x
