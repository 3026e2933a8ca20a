"""Uploaded datasets: tables of named numeric columns, parsed from a CSV or JSON body and
kept in the artifact store under `datasets/<id>/`.

A training spec names one by ID and names its target column; every other column is a
feature (see `service.ml.datasets`). Only numbers are stored: class labels are given as
class indices 0, 1, 2, ...
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from service.errors import InvalidRequest
from service.ml.artifacts import ArtifactStore, is_job_id
from service.names import display_problem

DATASETS_DIR = "datasets"
DATA_FILE = "data.npy"
META_FILE = "meta.json"  # written last: a dataset exists once its metadata does
MAX_REPORTED = 10  # bad values named in one answer; the first ones are enough to fix
MAX_COLUMN_NAME = 100


@dataclass(frozen=True)
class Table:
    """Named columns of finite float32 values, one row per example."""

    columns: tuple[str, ...]
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.values)


def parse_csv(body: bytes, max_rows: int) -> Table:
    """A table from CSV text: a header row naming the columns, then one row of numbers
    per example. Raises InvalidRequest naming each bad line and column."""
    try:
        text = body.decode("utf-8-sig")  # a byte-order mark, as spreadsheets write it
    except UnicodeDecodeError:
        raise InvalidRequest({"$": ["Expected UTF-8 text."]}) from None
    reader = csv.reader(io.StringIO(text))
    lines_of = _readable(reader)
    header = next(lines_of, None)
    if not header:
        raise InvalidRequest({"$": ["Expected a header row naming the columns."]})
    columns = _column_names(header, "header")
    rows, lines, errors = [], [], {}
    for row in lines_of:
        if not row:  # blank lines
            continue
        if len(rows) == max_rows:
            raise _too_many_rows(max_rows)
        if len(row) != len(columns) and len(errors) < MAX_REPORTED:
            errors[f"line {reader.line_num}"] = [_row_length(columns, len(row))]
        rows.append(row)
        lines.append(reader.line_num)
    if errors:
        raise InvalidRequest(errors)
    if not rows:
        raise InvalidRequest({"rows": ["Expected at least one row of data after the header."]})
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        values = None
    return _table(columns, rows, values, lambda i, _: f"line {lines[i]}", _parses_as_float)


def parse_rows(names: list[str], rows: list[Any]) -> Table:
    """A table from JSON column names and rows of numbers (`{"columns": [...], "rows":
    [[...], ...]}`, whose form its schema has loaded). Raises InvalidRequest naming each
    bad row and cell by JSON path."""
    columns, errors = _column_names(names, "columns"), {}
    for i, row in enumerate(rows):
        if len(errors) == MAX_REPORTED:
            break
        if not isinstance(row, list):
            errors[f"rows[{i}]"] = ["Expected a list of numbers, one per column."]
        elif len(row) != len(columns):
            errors[f"rows[{i}]"] = [_row_length(columns, len(row))]
    if errors:
        raise InvalidRequest(errors)
    typed = all(_is_number(v) for row in rows for v in row)
    try:
        values = np.array(rows, dtype=np.float64) if typed else None
    except OverflowError:  # an integer too large for a float: named cell by cell below
        values = None
    return _table(columns, rows, values, lambda i, j: f"rows[{i}][{j}]", _is_finite_number)


def _table(
    columns: tuple[str, ...],
    rows: list[list[Any]],
    values: np.ndarray | None,
    where: Callable[[int, int], str],
    readable: Callable[[Any], bool],
) -> Table:
    """The table of parsed `values` (None where some cell was not `readable`), or
    InvalidRequest naming the first cells that are not finite float32 numbers."""
    if values is not None:
        with np.errstate(over="ignore"):  # what Keras trains on; 1e300 becomes inf
            values = values.astype(np.float32)
        if np.isfinite(values).all():
            return Table(columns, values)
        cells = (tuple(ij) for ij in np.argwhere(~np.isfinite(values)))
    else:
        cells = ((i, j) for i, row in enumerate(rows) for j, v in enumerate(row) if not readable(v))
    errors: dict[str, list[str]] = {}
    told: set[int] = set()  # columns of text, said once each
    for i, j in _first(cells):
        i, j = int(i), int(j)
        if j in told:
            continue
        if _is_text(rows[i][j]) and _mostly_text(rows, j):
            told.add(j)
            message = (
                f"Column {columns[j]!r} holds text (first at {where(i, j)}: {rows[i][j]!r}). "
                "Every column must hold numbers: give class labels as indices 0, 1, 2, ..., "
                "or leave the column out."
            )
        else:
            message = f"Column {columns[j]!r}: expected a finite number. Received: {rows[i][j]!r}."
        errors.setdefault(where(i, j), []).append(message)
    raise InvalidRequest(errors)


def _is_text(value: Any) -> bool:
    """A word, not a number (not even NaN or inf) nor an empty cell."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def _mostly_text(rows: list[list[Any]], column: int, sample: int = 20) -> bool:
    """Whether a column's values are words rather than numbers with a typo: more than
    half of its first `sample` cells."""
    cells = [row[column] for row in rows[:sample] if column < len(row)]
    return sum(_is_text(v) for v in cells) * 2 > len(cells)


def _column_names(names: list[Any], path: str) -> tuple[str, ...]:
    ok = all(isinstance(n, str) and 0 < len(n.strip()) <= MAX_COLUMN_NAME for n in names)
    if not ok:
        raise InvalidRequest(
            {path: [f"Expected column names of 1 to {MAX_COLUMN_NAME} characters."]}
        )
    names = [n.strip() for n in names]
    shown = next((problem for n in names if (problem := display_problem(n))), None)
    if shown:
        raise InvalidRequest({path: [shown]})
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidRequest({path: [f"Column names must be unique. Repeated: {repeated}."]})
    return tuple(names)


def _row_length(columns: tuple[str, ...], received: int) -> str:
    return f"Expected {len(columns)} values ({', '.join(columns)}). Received: {received}."


def _too_many_rows(max_rows: int) -> InvalidRequest:
    message = (
        f"More than {max_rows:,} rows of data uploaded; this service accepts at most "
        f"{max_rows:,} (MAX_DATA_ROWS)."
    )
    return InvalidRequest({"rows": [message]})


def _parses_as_float(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _is_number(value: Any) -> bool:
    # JSON numbers only: Python counts True as 1, and NumPy would parse "1.5".
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    try:
        return _is_number(value) and math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _readable(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; a line the csv module cannot read (a field over its size
    limit, say) is a 422 naming the line, not a crash."""
    try:
        yield from reader
    except csv.Error as exc:
        message = f"Not readable as CSV: {exc}."
        raise InvalidRequest({f"line {reader.line_num}": [message]}) from None


def _first(items: Iterator[Any]) -> list[Any]:
    return list(islice(items, MAX_REPORTED))


class DatasetStore:
    """Uploaded datasets under `datasets/<id>/` of the artifact store: the values as a
    NumPy file, then their metadata, which commits the upload."""

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    def save(self, table: Table, body: bytes) -> dict[str, Any]:
        """Store a parsed table under a new ID; return its metadata. `body` is the
        upload as received (its size and digest let a client check what was kept)."""
        dataset_id = str(uuid.uuid4())
        meta = {
            "id": dataset_id,
            "rows": len(table),
            "columns": list(table.columns),
            "sha256": hashlib.sha256(body).hexdigest(),
            "bytes": len(body),
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }

        def write(directory: Path) -> None:
            np.save(directory / DATA_FILE, table.values, allow_pickle=False)
            (directory / META_FILE).write_text(json.dumps(meta))

        self.store.publish(self.store.path(DATASETS_DIR, dataset_id), write, commit=META_FILE)
        return meta

    def list(self) -> list[dict[str, Any]]:
        """Every stored dataset's metadata, newest first."""
        try:
            names = self.store.fs.ls(self.store.path(DATASETS_DIR), detail=False)
        except FileNotFoundError:
            return []
        found = (self.metadata(name.rstrip("/").rsplit("/", 1)[-1]) for name in names)
        return sorted((m for m in found if m), key=lambda m: m["created_at"], reverse=True)

    def delete(self, dataset_id: str) -> bool:
        """Remove a dataset (its metadata first: it is gone at once); True if it was
        there."""
        if not is_job_id(dataset_id):
            return False
        return self.store.remove(self.store.path(DATASETS_DIR, dataset_id), META_FILE)

    def expire(self, older_than_s: float, keep: set[str]) -> list[str]:
        """Delete the datasets uploaded more than `older_than_s` ago, except those in
        `keep` (named by jobs still to train); return the IDs deleted."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        old = [
            meta["id"]
            for meta in self.list()
            if datetime.fromisoformat(meta["created_at"]) < cutoff and meta["id"] not in keep
        ]
        return [dataset_id for dataset_id in old if self.delete(dataset_id)]

    def metadata(self, dataset_id: str) -> dict[str, Any] | None:
        """A dataset's metadata, or None when there is no such dataset."""
        raw = self._read(dataset_id, META_FILE)
        return None if raw is None else json.loads(raw)

    def load(self, dataset_id: str) -> Table | None:
        """A stored dataset's table, or None when there is no such dataset."""
        meta = self.metadata(dataset_id)
        raw = self._read(dataset_id, DATA_FILE) if meta is not None else None
        if raw is None:
            return None
        return Table(tuple(meta["columns"]), np.load(io.BytesIO(raw), allow_pickle=False))

    def for_data(self, data_spec: dict[str, Any]) -> Table | None:
        """The uploaded table a spec's `data` names; None if it names none or one that
        does not exist (loading the data then says which)."""
        return self.load(data_spec["dataset_id"]) if "dataset_id" in data_spec else None

    def _read(self, dataset_id: str, name: str) -> bytes | None:
        if not is_job_id(dataset_id):  # dataset IDs are UUIDs, as job IDs are
            return None
        try:
            return self.store.fs.cat_file(self.store.path(DATASETS_DIR, dataset_id, name))
        except FileNotFoundError:
            return None
