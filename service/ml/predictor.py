"""Trained models kept warm for /predict.

`model.predict()` sets up a whole prediction loop on every call (~50 ms for one row
here); a `tf.function` traced once with a fixed input signature answers the same in
well under a millisecond. Each API process loads a model once and keeps the most
recently used ones in a `service.ml.cache.ModelCache`.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf


class Predictor:
    """One loaded model behind a compiled call."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.input_shape: tuple[int, ...] = tuple(model.input_shape[1:])
        signature = tf.TensorSpec((None, *self.input_shape), tf.float32)
        self._call = tf.function(
            lambda x: model(x, training=False), input_signature=[signature], autograph=False
        )
        self.predict(np.zeros((1, *self.input_shape), np.float32))  # trace now, not per request

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Outputs for a float32 batch already checked against `input_shape`."""
        return self._call(batch).numpy()


def load_predictor(path: Path) -> Predictor:
    """Load a saved model in Keras safe mode (no deserialized code runs)."""
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    return Predictor(model)
