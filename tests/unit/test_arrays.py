"""JSON rows -> arrays: errors name the row and the shape expected."""

from __future__ import annotations

import pytest

from service.errors import InvalidInput
from service.ml.arrays import rows_to_array


def error_of(rows: object, row_shape: tuple | None = None) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as caught:
        rows_to_array(rows, "instances", InvalidInput, row_shape, "the model's input shape")
    return caught.value.errors


def test_rows_become_a_float32_batch() -> None:
    array = rows_to_array([[1, 2], [3, 4.5]], "x", InvalidInput, (2,))
    assert array.dtype == "float32"
    assert array.tolist() == [[1, 2], [3, 4.5]]


def test_a_row_of_the_wrong_length_is_named_with_the_expected_shape() -> None:
    assert error_of([[1, 2], [3, 4], [5]], (2,)) == {
        "instances[2]": ["Expected shape [2] (the model's input shape). Received: [1]."]
    }


def test_rows_all_of_the_wrong_shape_say_what_was_expected() -> None:
    message = error_of([[1, 2, 3]], (2,))["instances"][0]
    expected = "Expected each row to have shape [2] (the model's input shape)."
    assert message == f"{expected} Received rows of shape [3]."


def test_non_numeric_values_are_named_by_row() -> None:
    assert (
        "Expected numbers only. Received: [1, 'a']"
        in error_of([[1, 2], [1, "a"]])["instances[1]"][0]
    )
    assert "instances[0]" in error_of([[None, 1]])
    assert "instances[0]" in error_of([[True, False]])


def test_non_finite_numbers_are_refused() -> None:
    assert error_of([[1.0], [float("nan")]]) == {
        "instances[1]": ["Expected finite numbers. Received NaN or Infinity."]
    }
    assert "instances[0]" in error_of([[float("inf")]])


def test_ragged_rows_are_named() -> None:
    assert "Ragged row" in error_of([[[1, 2], [3]]])["instances[0]"][0]


def test_empty_or_non_list_input_is_refused() -> None:
    assert "instances" in error_of([])
    assert "instances" in error_of({"a": 1})
