"""Numbers from clients -> float32 arrays, with errors that name the element.

The one place that decides what a number is, for every way numbers arrive: inline
training data, our predict rows, TF Serving's rows and columns, and KServe V2 tensors
(JSON or binary, in any datatype). A number is a JSON number (not a boolean, a string
or null) that float32, what every model computes in, can hold: a value beyond float32's
range would silently become infinity (and a prediction of null), so it is refused,
naming its row and column, like NaN and Infinity. Pure NumPy, no TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from service.errors import InvalidRequest

NUMERIC_KINDS = "iuf"  # signed, unsigned, float; booleans, strings and nulls are refused
FLOAT32_MAX = float(np.finfo(np.float32).max)


def rows_to_array(
    rows: Any,
    path: str,
    error: type[InvalidRequest],
    row_shape: tuple[int, ...] | None = None,
    why: str = "",
) -> np.ndarray:
    """A float32 array with one entry per row, or `error` naming the first bad row.

    Every row must hold only numbers float32 can hold and have one shape: `row_shape`
    when given (`why` says where it comes from), else the first row's.
    """
    if not isinstance(rows, list) or not rows:
        raise error({path: ["Expected a non-empty list with one entry per row."]})
    try:
        array = np.asarray(rows)
    except (ValueError, TypeError):  # ragged nesting
        array = None
    if array is None or array.dtype.kind not in NUMERIC_KINDS or has_booleans(rows):
        raise error(dict([_first_bad_row(rows, path, row_shape, why)]))
    if row_shape is not None and array.shape[1:] != tuple(row_shape):
        raise error(
            {
                path: [
                    f"Expected each row to have shape {list(row_shape)}{_paren(why)}. "
                    f"Received rows of shape {list(array.shape[1:])}."
                ]
            }
        )
    return to_float32(array, path, error)


def to_float32(array: np.ndarray, path: str, error: type[InvalidRequest]) -> np.ndarray:
    """`array` (rows first) as float32, or `error` naming the first element that is not
    a finite number within float32's range by its JSON path (`path[row][column]`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        converted = array.astype(np.float32, copy=False)
    if np.isfinite(converted).all():
        return converted
    flat = converted.reshape(len(converted), -1)
    row, column = (int(i) for i in np.argwhere(~np.isfinite(flat))[0])
    value = array.reshape(len(array), -1)[row, column]
    inside = np.unravel_index(column, array.shape[1:]) if array.ndim > 1 else ()
    where = f"{path}[{row}]" + "".join(f"[{int(i)}]" for i in inside)
    if np.isfinite(value):
        message = (
            f"Expected a number within float32's range (±{FLOAT32_MAX:.4g}). Received: {value}."
        )
    else:
        message = "Expected finite numbers. Received NaN or Infinity."
    raise error({where: [message]})


def in_datatype(
    values: np.ndarray, dtype: np.dtype, path: str, error: type[InvalidRequest]
) -> np.ndarray:
    """`values` (numbers read from JSON) as `dtype`, or `error` naming the first element
    (by its position in row-major order) that the type cannot hold: a fraction for an
    integer type, a number out of its range. A cast would wrap 1000 to -24 in INT8."""
    flat = values.reshape(-1)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        bad = (flat != np.round(flat)) | (flat < info.min) | (flat > info.max)
        rule = f"integers from {info.min:,} to {info.max:,}"
    else:
        limit = float(np.finfo(dtype).max)
        bad = ~np.isfinite(flat) | (np.abs(flat) > limit)
        rule = f"finite numbers within ±{limit:.4g}"
    if bad.any():
        index = int(np.argmax(bad))
        raise error(
            {
                f"{path}[{index}]": [
                    f"Expected {rule} ({dtype.name}). Received: {flat[index]} "
                    f"(element {index} in row-major order)."
                ]
            }
        )
    return values.astype(dtype)


def has_booleans(rows: list[Any]) -> bool:
    """Whether JSON booleans hide among the numbers: NumPy reads [true, 2] as [1, 2].
    orjson writes the rows back in C; numbers never hold a 't' or an 'f'."""
    text = orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY)
    return b"t" in text or b"f" in text


def _first_bad_row(
    rows: list[Any], path: str, row_shape: tuple[int, ...] | None, why: str
) -> tuple[str, list[str]]:
    reference, source = (tuple(row_shape), _paren(why)) if row_shape is not None else (None, "")
    for i, row in enumerate(rows):
        try:
            array = np.asarray(row)
        except (ValueError, TypeError):
            return f"{path}[{i}]", ["Ragged row: its entries have different lengths."]
        if array.dtype.kind not in NUMERIC_KINDS or has_booleans([row]):
            return f"{path}[{i}]", [f"Expected numbers only. Received: {_preview(row)}."]
        if reference is None:
            reference, source = array.shape, f" (like {path}[0])"
        elif array.shape != reference:
            return f"{path}[{i}]", [
                f"Expected shape {list(reference)}{source}. Received: {list(array.shape)}."
            ]
    return path, ["Expected a list of numeric rows of one shape."]


def _paren(why: str) -> str:
    return f" ({why})" if why else ""


def _preview(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
