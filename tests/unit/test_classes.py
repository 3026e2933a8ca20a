"""Classifier outputs -> labels."""

from __future__ import annotations

import numpy as np

from service.ml.classes import class_map, to_classes


def test_sparse_classifiers_use_the_dataset_class_names() -> None:
    classes = class_map(
        {"type": "sparse_categorical_crossentropy"}, (3,), ("setosa", "versicolor", "virginica")
    )
    outputs = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]])
    assert to_classes(outputs, classes) == ["versicolor", "setosa"]


def test_without_names_classes_are_the_indices() -> None:
    classes = class_map({"type": "categorical_crossentropy"}, (4,), None)
    assert to_classes(np.array([[0, 0, 0.9, 0.1]]), classes) == [2]


def test_binary_probabilities_turn_at_one_half_and_logits_at_zero() -> None:
    probabilities = class_map({"type": "binary_crossentropy"}, (1,), ("malignant", "benign"))
    assert to_classes(np.array([[0.7], [0.2]]), probabilities) == ["benign", "malignant"]
    logits = class_map({"type": "binary_crossentropy", "from_logits": True}, (1,), None)
    assert to_classes(np.array([[0.3], [-0.2]]), logits) == [1, 0]


def test_multi_label_binary_outputs_give_a_label_per_unit() -> None:
    classes = class_map({"type": "binary_crossentropy"}, (2,), None)
    assert to_classes(np.array([[0.9, 0.1]]), classes) == [[1, 0]]


def test_regression_has_no_classes() -> None:
    assert class_map({"type": "mean_squared_error"}, (1,), None) is None
