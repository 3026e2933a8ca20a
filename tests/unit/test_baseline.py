"""prior_loss(): the loss of always predicting the training labels' prior is what Keras
itself scores for that constant prediction."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import pytest

from service.ml.baseline import prior_loss

RNG = np.random.default_rng(0)
CLASSES = RNG.integers(0, 4, size=200)
BINARY = (RNG.random((200, 2)) < [0.2, 0.6]).astype("float32")
NUMBERS = RNG.normal(10, 3, size=(200, 1))


def constant(y: np.ndarray, row: np.ndarray) -> np.ndarray:
    return np.repeat(row[None, :], len(y), axis=0).astype("float32")


@pytest.mark.parametrize(
    ("loss", "y", "prediction", "keras_loss"),
    [
        (
            {"type": "sparse_categorical_crossentropy"},
            CLASSES,
            lambda y: constant(y, np.bincount(y) / len(y)),
            keras.losses.SparseCategoricalCrossentropy(),
        ),
        (
            {"type": "categorical_crossentropy", "label_smoothing": 0.1},
            np.eye(4)[CLASSES],
            lambda y: constant(y, (y * 0.9 + 0.1 / 4).mean(axis=0)),
            keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
        ),
        (
            {"type": "binary_crossentropy"},
            BINARY,
            lambda y: constant(y, y.mean(axis=0)),
            keras.losses.BinaryCrossentropy(),
        ),
        (
            {"type": "mean_squared_error"},
            NUMBERS,
            lambda y: constant(y, y.mean(axis=0)),
            keras.losses.MeanSquaredError(),
        ),
        (
            {"type": "mean_absolute_error"},
            NUMBERS,
            lambda y: constant(y, np.median(y, axis=0)),
            keras.losses.MeanAbsoluteError(),
        ),
    ],
)
def test_the_prior_loss_is_keras_loss_of_the_best_constant_prediction(
    loss: dict[str, Any], y: np.ndarray, prediction: Any, keras_loss: Any
) -> None:
    expected = float(keras_loss(y, prediction(y)))
    assert prior_loss(loss, y) == pytest.approx(expected, rel=1e-4)


def test_balanced_classes_cost_log_k() -> None:
    y = np.arange(1000) % 10
    assert prior_loss({"type": "sparse_categorical_crossentropy"}, y) == pytest.approx(math.log(10))


def test_a_column_of_labels_counts_like_a_flat_list() -> None:
    loss = {"type": "sparse_categorical_crossentropy"}
    assert prior_loss(loss, CLASSES.reshape(-1, 1)) == pytest.approx(prior_loss(loss, CLASSES))


def test_labels_all_alike_leave_no_yardstick() -> None:
    assert prior_loss({"type": "binary_crossentropy"}, np.ones(50)) is None
    assert prior_loss({"type": "mean_squared_error"}, np.full(50, 3.0)) is None


def test_losses_without_a_closed_form_have_no_prior() -> None:
    assert prior_loss({"type": "huber", "delta": 1.0}, NUMBERS) is None
