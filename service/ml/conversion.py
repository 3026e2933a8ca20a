"""Keras model -> ONNX, the form every model is served in (by ONNX Runtime, without
TensorFlow). The worker's side: this module needs TensorFlow and tf2onnx.

The model's inference function is traced once for float32 rows of its input shape,
its weights and adapted statistics (Normalization's mean and variance) frozen into the
graph as constants, its loops (recurrent layers) kept as loops, and the graph converted
by tf2onnx. One TensorFlow op of the allow-list has no ONNX operator, Erfc (exact
GELU): it is rewritten as 1 - Erf. A conversion is kept only if ONNX Runtime gives
Keras's outputs on real rows (`check`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx
from onnx import helper, numpy_helper
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

from service.ml.predictor import Predictor

OPSET = 17
# How close ONNX Runtime must be to Keras, on the same rows (float32 arithmetic in
# another order): absolute for small outputs, relative for large ones.
TOLERANCE = 1e-5


class ConversionFailed(Exception):
    """The model could not be converted, or its conversion does not predict as Keras."""


def to_onnx(model: Any) -> bytes:
    """The serialized ONNX model of a built Keras model: input `input` (float32 rows of
    its input shape, any number of them), output `output`."""
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="input")
    traced = tf.function(lambda rows: {"output": model(rows, training=False)})
    frozen = convert_variables_to_constants_v2(
        traced.get_concrete_function(spec), lower_control_flow=False, aggressive_inlining=True
    )
    graph = frozen.graph.as_graph_def()
    proto, _ = tf2onnx.convert.from_graph_def(
        graph,
        input_names=[t.name for t in frozen.inputs],
        output_names=[t.name for t in frozen.outputs],
        opset=OPSET,
    )
    _rewrite_erfc(proto.graph)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def check(onnx_model: bytes, model: Any, rows: np.ndarray) -> float:
    """Raise ConversionFailed unless ONNX Runtime predicts `rows` as Keras does;
    return the largest difference."""
    expected = np.asarray(model(rows, training=False), dtype=np.float32)
    served = Predictor(onnx_model).predict(rows)
    if served.shape != expected.shape or not np.allclose(
        served, expected, rtol=TOLERANCE, atol=TOLERANCE
    ):
        raise ConversionFailed(
            "ONNX Runtime does not predict as Keras does: largest difference "
            f"{float(np.max(np.abs(served - expected))):.3g}."
        )
    return float(np.max(np.abs(served - expected), initial=0.0))


def convert(model: Any, rows: np.ndarray) -> bytes:
    """The checked ONNX model of `model`, or ConversionFailed saying why not."""
    try:
        onnx_model = to_onnx(model)
    except Exception as exc:  # tf2onnx and onnx raise many kinds
        raise ConversionFailed(f"Conversion to ONNX failed: {type(exc).__name__}: {exc}") from exc
    check(onnx_model, model, rows)
    return onnx_model


def sample_rows(model: Any, count: int = 64, seed: int = 0) -> np.ndarray:
    """Rows to check a conversion on when no data is at hand (a model trained before
    models were stored as ONNX): normal values, or token indices for an Embedding."""
    rng = np.random.default_rng(seed)
    shape = (count, *model.input_shape[1:])
    first = model.layers[0]
    if type(first).__name__ == "Embedding":
        return rng.integers(0, first.input_dim, size=shape).astype(np.float32)
    return rng.normal(size=shape).astype(np.float32)


def _rewrite_erfc(graph: onnx.GraphProto) -> None:
    """Erfc(x) as 1 - Erf(x), in place: ONNX has Erf but no Erfc."""
    nodes = list(graph.node)
    del graph.node[:]
    for node in nodes:
        if node.op_type != "Erfc":
            graph.node.append(node)
            continue
        (source,), (target,) = node.input, node.output
        one = f"{target}/one"
        graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), one))
        graph.node.append(helper.make_node("Erf", [source], [f"{target}/erf"]))
        graph.node.append(helper.make_node("Sub", [one, f"{target}/erf"], [target]))
