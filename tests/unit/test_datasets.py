"""Built-in and inline data, split deterministically and stratified for classes."""

from __future__ import annotations

import numpy as np
import pytest

from service.errors import InvalidSpec
from service.ml.datasets import builtin_arrays, load_dataset


def test_digits_binary_is_the_zeros_and_ones_of_digits() -> None:
    x, y = builtin_arrays("digits_binary", 0, 0)
    assert x.shape == (360, 64)
    assert set(np.unique(y)) == {0, 1}


@pytest.mark.parametrize(
    ("name", "rows", "row_shape"),
    [
        ("digits", 1797, (64,)),
        ("iris", 150, (4,)),
        ("wine", 178, (13,)),
        ("breast_cancer", 569, (30,)),
        ("diabetes", 442, (10,)),
    ],
)
def test_builtin_datasets_have_their_documented_shapes(
    name: str, rows: int, row_shape: tuple
) -> None:
    x, y = builtin_arrays(name, 0, 0)
    assert x.shape == (rows, *row_shape)
    assert len(y) == rows


def test_sum_of_two_targets_are_the_sums() -> None:
    x, y = builtin_arrays("sum_of_two", 500, 3)
    assert x.shape == (500, 2)
    np.testing.assert_allclose(y, x[:, 0] + x[:, 1], rtol=1e-6)


def test_splits_are_deterministic_given_the_seed() -> None:
    a = load_dataset({"dataset": "iris", "test_fraction": 0.2}, seed=7, stratify=True)
    b = load_dataset({"dataset": "iris", "test_fraction": 0.2}, seed=7, stratify=True)
    c = load_dataset({"dataset": "iris", "test_fraction": 0.2}, seed=8, stratify=True)
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert not np.array_equal(a.test.x, c.test.x)


def test_classification_test_splits_keep_class_proportions() -> None:
    data = load_dataset({"dataset": "iris", "test_fraction": 0.2}, seed=1, stratify=True)
    assert len(data.test) == 30
    assert np.bincount(data.test.y).tolist() == [10, 10, 10]


def test_train_rows_are_shuffled_so_validation_split_sees_every_class() -> None:
    # iris is sorted by class; Keras's validation_split takes the last rows.
    data = load_dataset({"dataset": "iris", "test_fraction": 0.0}, seed=0, stratify=True)
    assert data.test is None
    assert len(np.unique(data.train.y[-30:])) == 3


def test_inline_data_with_its_own_test_set() -> None:
    spec = {"x": [[1, 2], [3, 4], [5, 6]], "y": [0, 1, 0], "test": {"x": [[7, 8]], "y": [1]}}
    data = load_dataset(spec, seed=0, stratify=False)
    assert data.train.x.shape == (3, 2)
    assert data.test.x.tolist() == [[7, 8]]
    assert data.source == "data.x"


def test_inline_row_count_mismatch_names_the_targets() -> None:
    with pytest.raises(InvalidSpec) as caught:
        load_dataset({"x": [[1], [2]], "y": [1]}, seed=0, stratify=False)
    assert caught.value.errors == {
        "data.y": ["Expected 2 targets, one per row of data.x. Received: 1."]
    }


def test_held_out_rows_must_be_shaped_like_the_training_rows() -> None:
    spec = {"x": [[1, 2], [3, 4]], "y": [0, 1], "validation": {"x": [[1, 2, 3]], "y": [0]}}
    with pytest.raises(InvalidSpec) as caught:
        load_dataset(spec, seed=0, stratify=False)
    assert "Expected each row to have shape [2]" in caught.value.errors["data.validation.x"][0]


def test_too_few_rows_for_a_test_split_is_a_clear_error() -> None:
    with pytest.raises(InvalidSpec) as caught:
        load_dataset({"x": [[1]], "y": [2.0], "test_fraction": 0.2}, seed=0, stratify=False)
    assert "Cannot hold out 0.2 of 1 rows" in caught.value.errors["data.test_fraction"][0]


def test_rare_classes_fall_back_to_an_unstratified_split() -> None:
    spec = {"x": [[i] for i in range(10)], "y": [0] * 9 + [1], "test_fraction": 0.3}
    data = load_dataset(spec, seed=0, stratify=True)
    assert len(data.test) == 3
    assert len(data.train) == 7
