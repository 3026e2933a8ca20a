"""JSON rows -> arrays: errors name the row and the shape expected."""

from __future__ import annotations

import numpy as np
import pytest

from service.errors import InvalidInput
from service.ml.arrays import in_datatype, rows_to_array
from service.schemas.kserve import decode_tensor


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
        "instances[1][0]": ["Expected finite numbers. Received NaN or Infinity."]
    }
    assert "instances[0][0]" in error_of([[float("inf")]])


def test_ragged_rows_are_named() -> None:
    assert "Ragged row" in error_of([[[1, 2], [3]]])["instances[0]"][0]


def test_empty_or_non_list_input_is_refused() -> None:
    assert "instances" in error_of([])
    assert "instances" in error_of({"a": 1})


@pytest.mark.parametrize("big", [1e39, -3.5e38, 1e300])
def test_a_number_beyond_float32_is_named_by_row_and_column(big: float) -> None:
    errors = error_of([[1.0, 2.0], [3.0, big]], (2,))
    assert list(errors) == ["instances[1][1]"]
    assert "float32's range" in errors["instances[1][1]"][0]


def test_positions_inside_shaped_rows_are_json_paths() -> None:
    rows = [[[0.0] * 3 for _ in range(2)] for _ in range(2)]
    rows[1][1][2] = 1e39
    assert list(error_of(rows, (2, 3))) == ["instances[1][1][2]"]


@pytest.mark.parametrize("rows", [[[True, 2]], [[1.5, False]], [[1, 2], [3, True]]])
def test_booleans_among_numbers_are_refused(rows: list) -> None:
    row = len(rows) - 1
    assert "Expected numbers only" in error_of(rows)[f"instances[{row}]"][0]


def test_labels_that_are_single_numbers_are_named_by_row() -> None:
    assert list(error_of([1.0, 2.0, 1e39])) == ["instances[2]"]


@pytest.mark.parametrize(
    ("values", "dtype", "index"),
    [
        ([1000, 2], "int8", 0),
        ([1, -1], "uint8", 1),
        ([1, 2.5], "int32", 1),
        ([70000.0, 1], "float16", 0),
        ([1, 1e39], "float32", 1),
        ([2**40, 1], "int32", 0),
    ],
)
def test_values_that_do_not_fit_their_datatype_are_named(
    values: list, dtype: str, index: int
) -> None:
    with pytest.raises(InvalidInput) as caught:
        in_datatype(np.asarray(values), np.dtype(dtype), "data", InvalidInput)
    assert list(caught.value.errors) == [f"data[{index}]"]
    assert dtype in caught.value.errors[f"data[{index}]"][0]


def test_values_that_fit_keep_their_value() -> None:
    converted = in_datatype(np.asarray([-128, 127]), np.dtype("int8"), "data", InvalidInput)
    assert converted.tolist() == [-128, 127]


@pytest.mark.parametrize(
    "data",
    [[[], [], 0.0], [[1, 2], [3]], [True, 2], ["a", 1]],
    ids=["ragged", "rows", "bool", "str"],
)
def test_v2_data_that_is_not_one_numeric_tensor_is_named(data: list) -> None:
    spec = {"shape": [1, 2], "datatype": "FP32", "parameters": {}, "data": data}
    with pytest.raises(InvalidInput) as caught:
        decode_tensor(spec, b"", "inputs[0]")
    assert list(caught.value.errors) == ["inputs[0].data"]
