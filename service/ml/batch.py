"""Batch predictions: rows of an uploaded dataset through a model's ONNX session, in
chunks, written as CSV. Pure NumPy and ONNX Runtime, no TensorFlow.

The CSV has a header and one line per input row: `row` (the row's number in the
dataset, from 0), then `prediction_0`, `prediction_1`, ... (the model's outputs) and/or
`class` (the label it predicts), as `return` asks. Numbers are written by orjson (the
shortest text that reads back as the same float32), which keeps formatting off the
critical path: a chunk of 16,384 rows is one C call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
import orjson

from service.ml.classes import to_classes
from service.ml.predictor import Predictor

CHUNK_ROWS = 16_384


class ChunkFailed(Exception):
    """A chunk that could not be predicted, with the rows it held."""

    def __init__(self, first: int, last: int, cause: BaseException) -> None:
        super().__init__(f"rows {first} to {last}: {cause}")
        self.first, self.last, self.cause = first, last, cause


def header(predictor: Predictor, wanted: str) -> bytes:
    names = ["row"]
    if wanted in ("probabilities", "both"):
        outputs = int(np.prod(predictor.output_shape))
        names += [f"prediction_{i}" for i in range(outputs)]
    if wanted in ("classes", "both"):
        names.append("class")
    return (",".join(names) + "\n").encode()


def write_csv(
    predictor: Predictor,
    x: np.ndarray,
    wanted: str,
    out: IO[bytes],
    on_chunk: Callable[[int], None] = lambda rows: None,
) -> int:
    """Write the predictions of every row of `x` to `out`; `on_chunk(rows_done)` after
    each chunk (it may raise to stop). Returns the rows written."""
    out.write(header(predictor, wanted))
    done = 0
    for first, chunk in chunks(x):
        try:
            outputs = predictor.predict(chunk)
            out.write(lines(first, outputs, predictor.classes, wanted))
        except Exception as exc:
            raise ChunkFailed(first, first + len(chunk) - 1, exc) from exc
        done += len(chunk)
        on_chunk(done)
    return done


def chunks(x: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    for first in range(0, len(x), CHUNK_ROWS):
        yield first, x[first : first + CHUNK_ROWS]


def lines(first: int, outputs: np.ndarray, classes: dict[str, Any] | None, wanted: str) -> bytes:
    """One CSV line per row of `outputs`, numbered from `first`."""
    columns = [_column_text(np.arange(first, first + len(outputs)))]
    if wanted in ("probabilities", "both"):
        columns.append(_rows_text(outputs.reshape(len(outputs), -1)))
    if wanted in ("classes", "both"):
        labels = to_classes(outputs, classes)  # type: ignore[arg-type]
        columns.append([orjson.dumps(label) for label in labels])
    return b"".join(b",".join(parts) + b"\n" for parts in zip(*columns, strict=True))


def _column_text(values: np.ndarray) -> list[bytes]:
    return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")


def _rows_text(values: np.ndarray) -> list[bytes]:
    # [[a,b],[c,d]] -> [b"a,b", b"c,d"]: one orjson call for the whole chunk.
    text = orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY)
    return text[2:-2].split(b"],[")
