"""Labels -> the prior's loss: what a model that ignores its inputs scores.

The best constant prediction is the labels' class frequencies (cross-entropy), their
mean (squared error) or their median (absolute error); its loss is the yardstick that
makes a training loss "high" or "low" whatever the task's units (see
`service.ml.diagnosis`). Losses without a closed form here (hinge, Huber, ...) get None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

EPSILON = 1e-7  # Keras clips probabilities to [eps, 1 - eps] in its cross-entropies
# Labels all alike leave the prior nothing to lose (only clipping's residue): no yardstick.
NOTHING_TO_LEARN = 1e-6


def prior_loss(loss: Mapping[str, Any], y: np.ndarray) -> float | None:
    """The loss (a normalized spec's `compile.loss`) of predicting the prior of the
    training labels `y`; None when unknown or zero (labels all alike: nothing to learn)."""
    scorer = _PRIORS.get(loss["type"])
    if scorer is None:
        return None
    value = scorer(np.asarray(y, dtype=np.float64).reshape(len(y), -1), loss)
    return value if value > NOTHING_TO_LEARN else None


def _sparse_cross_entropy(y: np.ndarray, loss: Mapping[str, Any]) -> float:
    prior = np.bincount(y[:, 0].astype(np.int64)) / len(y)
    prior = prior[prior > 0]  # classes never seen add nothing
    return float(-(prior * np.log(np.clip(prior, EPSILON, 1 - EPSILON))).sum())


def _cross_entropy(y: np.ndarray, loss: Mapping[str, Any]) -> float:
    targets = _smoothed(y, loss, y.shape[1])
    prior = np.clip(targets.mean(axis=0), EPSILON, 1 - EPSILON)
    return float(np.mean(-(targets * np.log(prior)).sum(axis=1)))


def _binary_cross_entropy(y: np.ndarray, loss: Mapping[str, Any]) -> float:
    targets = _smoothed(y, loss, 2)
    prior = np.clip(targets.mean(axis=0), EPSILON, 1 - EPSILON)
    per_row = targets * np.log(prior) + (1 - targets) * np.log(1 - prior)
    return float(-per_row.mean())


def _smoothed(y: np.ndarray, loss: Mapping[str, Any], classes: int) -> np.ndarray:
    # Label smoothing moves the targets, and with them the best constant prediction.
    smoothing = loss.get("label_smoothing", 0.0)
    return y * (1 - smoothing) + smoothing / classes


def _squared_error(y: np.ndarray, loss: Mapping[str, Any]) -> float:
    return float(np.mean((y - y.mean(axis=0)) ** 2))


def _absolute_error(y: np.ndarray, loss: Mapping[str, Any]) -> float:
    return float(np.mean(np.abs(y - np.median(y, axis=0))))


# By the catalog's canonical loss names (service.ml.catalog.LOSSES).
_PRIORS: dict[str, Callable[[np.ndarray, Mapping[str, Any]], float]] = {
    "sparse_categorical_crossentropy": _sparse_cross_entropy,
    "categorical_crossentropy": _cross_entropy,
    "binary_crossentropy": _binary_cross_entropy,
    "mean_squared_error": _squared_error,
    "mean_absolute_error": _absolute_error,
}
