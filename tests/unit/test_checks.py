"""Model vs data: mismatches are InvalidSpec errors that name the field to fix."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.errors import InvalidSpec
from service.ml.preflight import check_spec
from service.schemas.spec import load_spec
from tests.helpers import example

LIMIT = Settings(max_params=10_000_000)


def errors_of(raw: dict) -> dict[str, list[str]]:
    with pytest.raises(InvalidSpec) as caught:
        check_spec(load_spec(raw), LIMIT)
    return caught.value.errors


def test_the_example_recipes_pass() -> None:
    for name in ("digits", "digits_binary", "sum_of_two"):
        assert check_spec(load_spec(example(name)), LIMIT)["total_params"] > 0


def test_input_shape_must_match_the_rows() -> None:
    raw = example("digits")
    raw["model"]["input_shape"] = [8, 8]
    message = errors_of(raw)["model.input_shape"][0]
    assert message.startswith(
        "Expected [64], the shape of one row of dataset 'digits'. Received: [8, 8]."
    )


def test_too_few_output_units_for_the_classes() -> None:
    raw = example("digits")
    raw["model"]["layers"][1]["units"] = 3
    message = errors_of(raw)["model.layers[1].units"][0]
    assert "labels go up to 9" in message
    assert "[10]" in message


def test_binary_crossentropy_needs_binary_labels() -> None:
    raw = example("digits_binary")
    raw["data"]["dataset"] = "digits"  # labels 0-9
    assert "expects labels 0 or 1" in errors_of(raw)["data.dataset"][0]


def test_binary_crossentropy_needs_one_output_per_label() -> None:
    raw = example("digits_binary")
    raw["model"]["layers"][2]["units"] = 2
    assert "must output shape [1]. Received: [2]" in errors_of(raw)["model.layers[2].units"][0]


def test_categorical_crossentropy_on_class_indices_suggests_the_sparse_loss() -> None:
    raw = example("digits")
    raw["compile"]["loss"] = "categorical_crossentropy"
    assert "sparse_categorical_crossentropy" in errors_of(raw)["data.dataset"][0]


def test_sparse_labels_must_be_class_indices() -> None:
    raw = example("sum_of_two")
    raw["compile"]["loss"] = "sparse_categorical_crossentropy"
    raw["model"]["layers"][2]["units"] = 100
    assert "integer class indices" in errors_of(raw)["data.dataset"][0]


def test_regression_output_must_match_the_targets() -> None:
    raw = example("sum_of_two")
    raw["model"]["layers"][2]["units"] = 2
    assert "must output shape [1]" in errors_of(raw)["model.layers[2].units"][0]


def test_inline_one_hot_labels_with_categorical_crossentropy_pass() -> None:
    raw = example("sum_of_two")
    raw["model"]["layers"][2].update(units=2, activation="softmax")
    raw["compile"] = {"loss": "categorical_crossentropy", "metrics": ["accuracy"]}
    raw["data"] = {"x": [[0, 1], [1, 0]] * 5, "y": [[1, 0], [0, 1]] * 5}
    assert check_spec(load_spec(raw), LIMIT)["output_shape"] == [None, 2]


def test_validation_split_must_leave_rows_on_both_sides() -> None:
    raw = example("sum_of_two")
    raw["data"] = {"x": [[1, 2], [3, 4]], "y": [3, 7], "test_fraction": 0}
    raw["fit"]["validation_split"] = 0.3
    assert "fit.validation_split" in errors_of(raw)
