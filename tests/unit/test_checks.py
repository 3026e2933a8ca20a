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
    raw["fit"]["validation_split"] = 0.6  # Keras would train on floor(0.8) = 0 rows
    assert "fit.validation_split" in errors_of(raw)
    raw["fit"]["validation_split"] = 0.3  # 1 row to train on, 1 to validate on
    assert check_spec(load_spec(raw), LIMIT)


def test_a_validation_split_that_leaves_no_training_row_is_refused_as_keras_splits() -> None:
    # digits_binary: 288 training rows after the test split; Keras would keep floor(0.288).
    raw = example("digits_binary")
    raw["fit"]["validation_split"] = 0.999
    [message] = errors_of(raw)["fit.validation_split"]
    assert "leaves 0 to train on" in message
    raw["fit"]["validation_split"] = 0.99
    assert check_spec(load_spec(raw), LIMIT)


def embedding_spec(x: list, input_dim: int = 10, before: list | None = None) -> dict:
    return {
        "model": {
            "input_shape": [2],
            "layers": [
                *(before or []),
                {"type": "Embedding", "input_dim": input_dim, "output_dim": 4},
                {"type": "Flatten"},
                {"type": "Dense", "units": 1, "activation": "sigmoid"},
            ],
        },
        "compile": {"loss": "binary_crossentropy"},
        "data": {"x": x, "y": [0, 1] * (len(x) // 2), "test_fraction": 0},
    }


def test_an_embedding_needs_integer_indices_as_inputs() -> None:
    errors = errors_of(embedding_spec([[0.5, 1], [2, 3]] * 5))
    assert "integer indices" in errors["data.x"][0]
    assert "data.x" in errors_of(embedding_spec([[-1, 1], [2, 3]] * 5))


def test_an_embedding_smaller_than_the_largest_index_names_input_dim() -> None:
    errors = errors_of(embedding_spec([[0, 1], [2, 9]] * 5, input_dim=5))
    assert errors == {
        "model.layers[0].input_dim": [
            "The inputs hold indices up to 9, so input_dim must be at least 10. Received: 5."
        ]
    }
    assert check_spec(load_spec(embedding_spec([[0, 1], [2, 9]] * 5)), LIMIT)


def test_an_embedding_after_a_layer_that_computes_values_is_refused() -> None:
    spec = embedding_spec([[0, 1], [2, 3]] * 5, before=[{"type": "Dense", "units": 2}])
    assert "before any layer that computes new values" in errors_of(spec)["model.layers[1]"][0]


def test_a_reshape_that_cannot_hold_its_input_names_both_shapes() -> None:
    raw = example("digits")
    raw["model"]["layers"].insert(1, {"type": "Reshape", "target_shape": [100, 5]})
    assert errors_of(raw) == {
        "model.layers[1].target_shape": [
            "Reshape to [100, 5] needs 500 values per row; its input has shape [512], 512 values."
        ]
    }
    raw["model"]["layers"][1]["target_shape"] = [-1, 5]
    assert "a multiple of 5" in errors_of(raw)["model.layers[1].target_shape"][0]
