"""The one prediction path of the three protocols (ours, TF Serving, KServe V2):
`predict` resolves the model, checks the batch, runs the session and counts the rows;
the blueprints only translate their wire formats to its inputs and from its outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from service.context import services
from service.errors import InvalidInput
from service.http import resolve
from service.metrics import count_predicted_rows
from service.ml.arrays import rows_to_array, to_float32
from service.ml.classes import to_classes

if TYPE_CHECKING:
    from service.ml.predictor import Predictor

# What TF Serving and KServe clients see of every model: one version, one input tensor
# and one output tensor, under these names.
VERSION, INPUT, OUTPUT = "1", "input", "output"


def predict(
    ref: str,
    protocol: str,
    inputs: list[Any] | np.ndarray,
    path: str,
    wanted: str = "probabilities",
) -> tuple[np.ndarray, Predictor]:
    """Run the model `ref` names (a job ID or an alias) on `inputs`, the request's rows
    at `path`: JSON lists of the model's input shape, or a tensor that arrived shaped
    (KServe V2). `wanted` is what our protocol's `return` asked for. Returns the outputs
    and the model's predictor (for its classes and shapes)."""
    predictor = services().predictor(resolve(ref))
    wanted = check_return(wanted, predictor)
    if isinstance(inputs, np.ndarray):
        batch = check_rows(inputs, predictor, path)
    else:
        batch = rows_batch(inputs, predictor, path)
    outputs = predictor.predict(batch)
    count_predicted_rows(protocol, len(batch))
    return outputs, predictor


def rows_batch(rows: list[Any], predictor: Predictor, path: str) -> np.ndarray:
    """A float32 batch the model accepts, or a 422 naming the row and expected shape
    (the request's schema has bounded the number of rows)."""
    return rows_to_array(rows, path, InvalidInput, predictor.input_shape, "the model's input shape")


def check_rows(batch: np.ndarray, predictor: Predictor, path: str) -> np.ndarray:
    """The same checks for a tensor that arrived already shaped (KServe V2's input at
    `path`: its `shape`, and its values as `data`)."""
    if batch.shape[1:] != predictor.input_shape:
        raise InvalidInput(
            {
                f"{path}.shape": [
                    f"Expected shape [-1, {', '.join(map(str, predictor.input_shape))}] (rows of "
                    f"the model's input shape). Received: {list(batch.shape)}."
                ]
            }
        )
    return to_float32(batch, f"{path}.data", InvalidInput)


def check_return(wanted: str, predictor: Predictor) -> str:
    """The `return` a predict request asked for, if this model can give it."""
    if wanted != "probabilities" and predictor.classes is None:
        raise InvalidInput(
            {"return": ["This model was trained with a regression loss: it has no classes."]}
        )
    return wanted


def answer(outputs: np.ndarray, predictor: Predictor, wanted: str) -> dict[str, Any]:
    """Our /predict answer: raw outputs, class labels, or both."""
    result: dict[str, Any] = {}
    if wanted in ("probabilities", "both"):
        result["predictions"] = outputs
    if wanted in ("classes", "both"):
        result["classes"] = to_classes(outputs, predictor.classes)
    return result
