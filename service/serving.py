"""What the three prediction protocols share: turning rows into a checked batch and
outputs into answers. Plain functions; the blueprints translate their wire formats."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from service.errors import InvalidInput
from service.ml.arrays import rows_to_array, to_float32
from service.ml.classes import to_classes

if TYPE_CHECKING:
    from service.ml.predictor import Predictor

# What TF Serving and KServe clients see of every model: one version, one input tensor
# and one output tensor, under these names.
VERSION, INPUT, OUTPUT = "1", "input", "output"


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
