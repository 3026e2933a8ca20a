"""Trained models kept warm for serving.

`model.predict()` sets up a whole prediction loop on every call (~50 ms for one row
here). A Predictor runs the model's dense-family layers as NumPy (`ml.forward`,
~0.01 ms) and anything else through a TensorFlow concrete function traced once for a
fixed input signature (~0.3 ms). Each API process keeps the most recently used
Predictors in a `service.ml.cache.ModelCache`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from service.ml.forward import numpy_forward


class Predictor:
    """One loaded model behind its fastest exact call, with what serving needs to know."""

    def __init__(
        self, model: keras.Model, classes: dict[str, Any] | None = None, numpy_path: bool = True
    ) -> None:
        self.input_shape: tuple[int, ...] = tuple(model.input_shape[1:])
        self.output_shape: tuple[int, ...] = tuple(model.output_shape[1:])
        self.classes = classes  # how outputs map to class labels, for classifiers
        forward = numpy_forward(model) if numpy_path else None
        if forward is not None:
            self.backend, self._call = "numpy", forward
        else:
            signature = tf.TensorSpec((None, *self.input_shape), tf.float32)
            concrete = tf.function(
                lambda x: model(x, training=False), input_signature=[signature], autograph=False
            ).get_concrete_function()
            self.backend = "tensorflow"
            self._call = lambda batch: concrete(tf.constant(batch)).numpy()
        self.predict(np.zeros((1, *self.input_shape), np.float32))  # warm up now

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Outputs for a float32 batch already checked against `input_shape`."""
        return self._call(batch)


def load_predictor(path: Path, classes: dict[str, Any] | None = None) -> Predictor:
    """Load a saved model in Keras safe mode (no deserialized code runs)."""
    return Predictor(keras.saving.load_model(path, compile=False, safe_mode=True), classes)
