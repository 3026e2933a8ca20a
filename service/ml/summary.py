"""Model -> summary: layers, output shapes and parameter counts as Keras counts them."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np


def summarize(model: keras.Model) -> dict[str, Any]:
    """What `model.summary()` prints, as data.

    Counts come from the model's variables themselves (shared variables once), the same
    way Keras's summary counts them; `size_bytes` is their memory at their dtypes, and
    `activation_bytes` the memory of one row's activations (every layer's output, at
    its dtype). Works on a model built under `builder.shape_only()`: only shapes are read.
    """
    layers = [
        {
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": list(layer.output.shape),
            "params": count_params(layer.weights),
            "trainable_params": count_params(layer.trainable_weights),
            "activation_bytes": tensor_bytes(layer.output),
        }
        for layer in model.layers
    ]
    return {
        "name": model.name,
        "input_shape": list(model.input_shape),
        "output_shape": list(model.output_shape),
        "layers": layers,
        "total_params": count_params(model.weights),
        "trainable_params": count_params(model.trainable_weights),
        "non_trainable_params": count_params(model.non_trainable_weights),
        "size_bytes": size_bytes(model.weights),
        "activation_bytes": sum(layer["activation_bytes"] for layer in layers),
    }


def tensor_bytes(tensor: Any) -> int:
    """The memory of one row of a (symbolic) tensor: its shape without the batch."""
    return math.prod(tensor.shape[1:]) * np.dtype(tensor.dtype).itemsize


def count_params(variables: list[Any]) -> int:
    return sum(int(np.prod(v.shape)) for v in _unique(variables))


def size_bytes(variables: list[Any]) -> int:
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in _unique(variables))


def _unique(variables: list[Any]) -> list[Any]:
    return list({id(v): v for v in variables}.values())
