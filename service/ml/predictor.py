"""Trained models kept warm for serving: ONNX Runtime sessions, no TensorFlow.

Every trained model is stored as ONNX beside its Keras file (service.ml.conversion,
in the worker), and API processes serve it with ONNX Runtime alone: a process that
serves predictions never imports TensorFlow or Keras (~650 MB and ~4 s saved), and
every layer family runs through one engine. Each session gets one compute thread:
gunicorn runs a process per core already (bench/README.md has the measurements).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime

# One compute thread per session: processes are per core, and more threads only
# contend with the other processes' (measured: bench/README.md).
THREADS = 1


class Predictor:
    """One loaded model: its session, its shapes, its class map, its size."""

    def __init__(
        self, onnx_model: bytes, classes: dict[str, Any] | None = None, threads: int = THREADS
    ) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self._session = onnxruntime.InferenceSession(
            onnx_model, options, providers=["CPUExecutionProvider"]
        )
        (signature,), (output,) = self._session.get_inputs(), self._session.get_outputs()
        self._input = signature.name
        self.input_shape: tuple[int, ...] = tuple(signature.shape[1:])
        self.output_shape: tuple[int, ...] = tuple(output.shape[1:])
        self.classes = classes  # how outputs map to class labels, for classifiers
        # What the cache counts it as: a session's memory is mostly its weights, which
        # are the model file's bulk.
        self.nbytes = len(onnx_model)
        self._run = self._session.run
        self.predict(np.zeros((1, *self.input_shape), np.float32))  # warm up now

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Outputs for a float32 batch already checked against `input_shape`."""
        return self._run(None, {self._input: batch})[0]
