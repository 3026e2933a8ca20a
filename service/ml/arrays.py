"""JSON rows -> NumPy arrays, with errors that name the row and what was wrong.

Used for inline training data and for prediction inputs; pure NumPy, no TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from service.errors import InvalidRequest

NUMERIC_KINDS = "iuf"  # signed, unsigned, float; booleans, strings and nulls are refused


def rows_to_array(
    rows: Any,
    path: str,
    error: type[InvalidRequest],
    row_shape: tuple[int, ...] | None = None,
    why: str = "",
) -> np.ndarray:
    """A float32 array with one entry per row, or `error` naming the first bad row.

    Every row must hold only finite numbers (JSON has no NaN, but Python's parser accepts
    `NaN` and `Infinity`) and have one shape: `row_shape` when given (`why` says where
    it comes from), else the first row's.
    """
    if not isinstance(rows, list) or not rows:
        raise error({path: ["Expected a non-empty list with one entry per row."]})
    try:
        array = np.asarray(rows)
    except (ValueError, TypeError):  # ragged nesting
        array = None
    if array is None or array.dtype.kind not in NUMERIC_KINDS:
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
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array.reshape(len(array), -1)))[0][0])
        raise error({f"{path}[{row}]": ["Expected finite numbers. Received NaN or Infinity."]})
    return array.astype(np.float32, copy=False)


def _first_bad_row(
    rows: list[Any], path: str, row_shape: tuple[int, ...] | None, why: str
) -> tuple[str, list[str]]:
    reference, source = (tuple(row_shape), _paren(why)) if row_shape is not None else (None, "")
    for i, row in enumerate(rows):
        try:
            array = np.asarray(row)
        except (ValueError, TypeError):
            return f"{path}[{i}]", ["Ragged row: its entries have different lengths."]
        if array.dtype.kind not in NUMERIC_KINDS:
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
