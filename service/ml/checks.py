"""Does a model fit its data? Input shape vs rows, output vs loss and labels.

Pure functions over shapes and label arrays, run by the API before a job is queued, so
a mismatch is a 422 naming the field instead of a failed job.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from service.errors import InvalidSpec
from service.ml.catalog import LOSSES, LossKind
from service.ml.datasets import Dataset


def check_fit(spec: dict[str, Any], dataset: Dataset, output_shape: tuple[int, ...]) -> None:
    """Raise InvalidSpec unless the model's input matches the rows and its output matches
    what the loss expects of the labels. `output_shape` excludes the batch dimension."""
    errors: dict[str, list[str]] = {}
    input_shape = tuple(spec["model"]["input_shape"])
    if input_shape != dataset.row_shape:
        errors["model.input_shape"] = [
            f"Expected {list(dataset.row_shape)}, the shape of one row of {dataset.source}. "
            f"Received: {list(input_shape)}. (A Reshape layer can change the shape inside "
            "the model.)"
        ]
    kind = LOSSES[spec["compile"]["loss"]["type"]].kind
    for path, message in _label_problems(spec, dataset, output_shape, kind):
        errors.setdefault(path, []).append(message)
    for path, message in _embedding_problems(spec, dataset):
        errors.setdefault(path, []).append(message)
    _check_split_sizes(spec, dataset, errors)
    if errors:
        raise InvalidSpec(errors)


def _label_problems(
    spec: dict[str, Any], dataset: Dataset, output_shape: tuple[int, ...], kind: LossKind
) -> list[tuple[str, str]]:
    loss = spec["compile"]["loss"]["type"]
    output_path = _output_path(spec)
    labels_path = dataset.labels_path
    y = np.concatenate([s.y.reshape(len(s), -1) for s in dataset.splits().values()])
    label_shape = dataset.train.y.shape[1:]

    if kind is LossKind.SPARSE:
        if not np.array_equal(y, np.round(y)) or y.min() < 0:
            return [(labels_path, f"{loss} expects integer class indices 0, 1, 2, ...")]
        classes = int(y.max()) + 1
        expected = (*_squeeze_last(label_shape), classes)
        if len(output_shape) != len(expected) or output_shape[-1] < classes:
            return [
                (
                    output_path,
                    f"{loss} needs one output per class: the labels go up to {classes - 1}, so "
                    f"the model must output shape {list(expected)}. Received: "
                    f"{list(output_shape)}.",
                )
            ]
        if output_shape[:-1] != expected[:-1]:
            return [(output_path, _shape_message(loss, expected, output_shape))]
        return []

    if kind is LossKind.CATEGORICAL and len(label_shape) == 0:
        return [
            (
                labels_path,
                f"{loss} expects one-hot rows; these labels are class indices. Use "
                "sparse_categorical_crossentropy for class indices.",
            )
        ]
    if kind in (LossKind.BINARY, LossKind.CATEGORICAL) and not np.isin(y, (0, 1)).all():
        what = "labels 0 or 1" if kind is LossKind.BINARY else "one-hot rows of 0s and a 1"
        return [(labels_path, f"{loss} expects {what}. Received other values.")]
    expected = tuple(label_shape) if label_shape else (1,)
    if tuple(output_shape) != expected:
        return [(output_path, _shape_message(loss, expected, output_shape))]
    return []


# Layers that move values without changing them: an Embedding behind them still looks
# up the data's own indices.
_SHAPE_ONLY = ("Reshape", "Flatten")


def _embedding_problems(spec: dict[str, Any], dataset: Dataset) -> list[tuple[str, str]]:
    """An Embedding looks up rows by integer index: what reaches it must be the data's
    own values, integers from 0 to its input_dim - 1 (TensorFlow fails mid-fit on an
    index outside, and truncates fractions without a word)."""
    layers = spec["model"]["layers"]
    found = next((i for i, layer in enumerate(layers) if layer["type"] == "Embedding"), None)
    if found is None:
        return []
    path = f"model.layers[{found}]"
    before = [layer["type"] for layer in layers[:found] if layer["type"] not in _SHAPE_ONLY]
    if before:
        return [
            (
                path,
                "An Embedding takes the data's integer indices, so it must come before any "
                f"layer that computes new values. Received it after {before[0]}.",
            )
        ]
    x = np.concatenate([s.x.reshape(len(s), -1) for s in dataset.splits().values()])
    inputs = _inputs_path(dataset)
    if not np.array_equal(x, np.round(x)) or x.min() < 0:
        return [
            (
                inputs,
                "An Embedding takes integer indices 0, 1, 2, ... as inputs; these inputs "
                f"hold fractions or negative values (from {x.min():g} to {x.max():g}).",
            )
        ]
    input_dim, largest = layers[found]["input_dim"], int(x.max())
    if largest >= input_dim:
        return [
            (
                f"{path}.input_dim",
                f"The inputs hold indices up to {largest}, so input_dim must be at least "
                f"{largest + 1}. Received: {input_dim}.",
            )
        ]
    return []


def _inputs_path(dataset: Dataset) -> str:
    # Where a client changes the inputs: inline x, the dataset, or the uploaded table.
    return {"data.y": "data.x", "data.target": "data.dataset_id"}.get(
        dataset.labels_path, dataset.labels_path
    )


def _check_split_sizes(
    spec: dict[str, Any], dataset: Dataset, errors: dict[str, list[str]]
) -> None:
    fraction = spec["fit"]["validation_split"]
    rows = len(dataset.train)
    # Keras trains on the first floor(rows * (1 - fraction)) rows and validates on the rest.
    training = math.floor(rows * (1.0 - fraction))
    if fraction and not 1 <= training < rows:
        errors.setdefault("fit.validation_split", []).append(
            f"Holding out {fraction:g} of the {rows:,} training rows (after the test split) "
            f"leaves {training:,} to train on and {rows - training:,} to validate on; both "
            "need at least one."
        )


def _shape_message(loss: str, expected: tuple[int, ...], received: tuple[int, ...]) -> str:
    return (
        f"With {loss} and these labels the model must output shape {list(expected)}. "
        f"Received: {list(received)}."
    )


def _squeeze_last(shape: tuple[int, ...]) -> tuple[int, ...]:
    # Sparse labels may come as a column ([[3], [1], ...]); that column is not a dimension.
    return shape[:-1] if shape and shape[-1] == 1 else shape


def _output_path(spec: dict[str, Any]) -> str:
    """Where to point a wrong output: the last layer's `units` when it has them."""
    layers = spec["model"]["layers"]
    last = len(layers) - 1
    return f"model.layers[{last}].units" if "units" in layers[last] else "model.layers"
