"""Classifier outputs -> class labels.

A trained classifier's artifacts carry a class map: which kind of classifier it is, the
label of each output unit (the dataset's class names when it has them, else the class
indices the labels used), and where a binary output turns from one class to the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from service.ml.catalog import LOSSES, LossKind


def class_map(
    loss: dict[str, Any], output_shape: tuple[int, ...], names: tuple[Any, ...] | None
) -> dict[str, Any] | None:
    """The class map of a model trained with `loss` (None for regression)."""
    kind = LOSSES[loss["type"]].kind
    if kind is LossKind.REGRESSION:
        return None
    if kind is LossKind.BINARY:
        labels = list(names) if names and len(names) == 2 else [0, 1]
        # Logits and hinge outputs change sign at the boundary; probabilities cross 0.5.
        at_zero = loss.get("from_logits") or loss["type"] in ("hinge", "squared_hinge")
        return {"kind": "binary", "labels": labels, "threshold": 0.0 if at_zero else 0.5}
    units = output_shape[-1]
    labels = list(names) if names and len(names) == units else list(range(units))
    return {"kind": kind.name.lower(), "labels": labels}


def to_classes(outputs: np.ndarray, classes: dict[str, Any]) -> list[Any]:
    """The label each output row predicts (one per output unit for a binary model with
    several units)."""
    labels = classes["labels"]
    if classes["kind"] == "binary":
        picked = (outputs >= classes["threshold"]).astype(int)
        rows = [[labels[i] for i in row] for row in picked.reshape(len(outputs), -1)]
        return [row[0] if len(row) == 1 else row for row in rows]
    return [labels[i] for i in outputs.argmax(axis=-1).reshape(len(outputs))]
