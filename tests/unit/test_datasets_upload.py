"""Uploaded datasets: parsed from CSV or JSON, refused with the row and column at fault,
stored whole, and trained on by naming a target column."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.app import create_app
from service.config import Settings
from service.errors import InvalidRequest, InvalidSpec
from service.limits import limits_of
from service.ml.artifacts import ArtifactStore
from service.ml.datasets import load_dataset
from service.ml.preflight import check_spec
from service.ml.uploads import DatasetStore, Table, parse_csv, parse_rows
from service.schemas.datasets import DatasetTableSchema
from service.schemas.fields import load
from service.schemas.spec import load_spec
from tests.helpers import example, free_port

SUM_CSV = b"a,b,sum\n1,2,3\n4.5,0.5,5\n\n10,-2,8\n"


def json_table(body: dict[str, Any], max_rows: int = 10) -> Table:
    """A JSON upload read as POST /v1/datasets reads it: its form by its schema, then
    its values."""
    with limits_of(Settings(max_data_rows=max_rows)):
        loaded = load(DatasetTableSchema(), body)
    return parse_rows(loaded["columns"], loaded["rows"])


def errors_of(call: Any, *args: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as raised:
        call(*args)
    return raised.value.errors


def test_a_csv_body_becomes_named_float32_columns() -> None:
    table = parse_csv(b"\xef\xbb\xbf" + SUM_CSV, max_rows=10)  # with a byte-order mark
    assert table.columns == ("a", "b", "sum")
    assert table.values.dtype == np.float32
    np.testing.assert_array_equal(table.values, [[1, 2, 3], [4.5, 0.5, 5], [10, -2, 8]])


@pytest.mark.parametrize(
    ("body", "where", "column"),
    [
        (b"a,b\n1,2\n3,x\n", "line 3", "'b'"),
        (b"a,b\n1,2\n3,\n", "line 3", "'b'"),
        (b"a,b\nnan,2\n", "line 2", "'a'"),
        (b"a,b\n1,inf\n", "line 2", "'b'"),
        (b"a,b\n1,1e300\n", "line 2", "'b'"),  # beyond float32
    ],
)
def test_a_csv_value_that_is_not_a_finite_number_is_named_by_line_and_column(
    body: bytes, where: str, column: str
) -> None:
    errors = errors_of(parse_csv, body, 10)
    assert list(errors) == [where]
    assert f"Column {column}: expected a finite number" in errors[where][0]


def test_a_csv_row_of_the_wrong_length_is_named_by_line() -> None:
    errors = errors_of(parse_csv, b"a,b\n1,2\n1,2,3\n", 10)
    assert errors == {"line 3": ["Expected 2 values (a, b). Received: 3."]}


@pytest.mark.parametrize(
    ("body", "path"),
    [(b"", "$"), (b"a,b\n", "rows"), (b"a,a\n1,2\n", "header"), (b"a,\n1,2\n", "header")],
)
def test_a_csv_without_a_header_rows_or_unique_names_is_refused(body: bytes, path: str) -> None:
    assert path in errors_of(parse_csv, body, 10)


def test_more_rows_than_max_data_rows_are_refused_naming_the_setting() -> None:
    [message] = errors_of(parse_csv, SUM_CSV, 2)["rows"]
    assert "MAX_DATA_ROWS" in message
    rows = [[1, 2]] * 3
    assert (
        "MAX_DATA_ROWS"
        in errors_of(json_table, {"columns": ["a", "b"], "rows": rows}, 2)["rows"][0]
    )


def test_a_json_body_gives_columns_and_rows() -> None:
    table = json_table({"columns": ["x", "y"], "rows": [[1, 2.5], [3, 4]]})
    assert table.columns == ("x", "y")
    np.testing.assert_array_equal(table.values, [[1, 2.5], [3, 4]])


@pytest.mark.parametrize("bad", [True, "1.5", None, float("nan"), 1e300, 10**400])
def test_a_json_value_that_is_not_a_finite_number_is_named_by_its_path(bad: Any) -> None:
    errors = errors_of(json_table, {"columns": ["x", "y"], "rows": [[1, 2], [3, bad]]}, 10)
    assert list(errors) == ["rows[1][1]"]
    assert errors["rows[1][1]"][0].startswith("Column 'y': expected a finite number.")


def test_a_csv_line_the_csv_module_cannot_read_is_named() -> None:
    body = b"x,y\n1,2\n3," + b"4" * 200_000 + b"\n"
    errors = errors_of(parse_csv, body, 10)
    assert list(errors) == ["line 3"]
    assert errors["line 3"][0].startswith("Not readable as CSV: field larger than field limit")


def test_a_json_body_of_the_wrong_shape_names_each_field() -> None:
    errors = errors_of(json_table, {"columns": ["x"], "rows": [[1], [1, 2], 3], "extra": 1}, 10)
    assert set(errors) == {"extra"}
    errors = errors_of(json_table, {"columns": ["x"], "rows": [[1], [1, 2], 3]}, 10)
    assert set(errors) == {"rows[1]", "rows[2]"}
    assert set(errors_of(json_table, {"rows": []}, 10)) == {"columns", "rows"}


def test_a_stored_dataset_reads_back_with_its_metadata(tmp_path: Path) -> None:
    datasets = DatasetStore(ArtifactStore(tmp_path))
    meta = datasets.save(parse_csv(SUM_CSV, 10), SUM_CSV)
    assert meta["rows"] == 3
    assert meta["columns"] == ["a", "b", "sum"]
    assert meta["sha256"] == hashlib.sha256(SUM_CSV).hexdigest()
    assert meta["bytes"] == len(SUM_CSV)
    assert meta["created_at"].endswith("Z")
    assert datasets.metadata(meta["id"]) == meta
    table = datasets.load(meta["id"])
    assert table is not None
    np.testing.assert_array_equal(table.values, parse_csv(SUM_CSV, 10).values)
    assert [p.name for p in (tmp_path / "datasets").iterdir()] == [meta["id"]]
    assert ArtifactStore(tmp_path).recent_job_ids(5) == []


@pytest.mark.parametrize("dataset_id", [str(uuid.uuid4()), "../datasets", "not-a-uuid"])
def test_unknown_dataset_ids_read_as_none(tmp_path: Path, dataset_id: str) -> None:
    datasets = DatasetStore(ArtifactStore(tmp_path))
    assert datasets.metadata(dataset_id) is None
    assert datasets.load(dataset_id) is None


SUMS = Table(("a", "b", "sum"), np.array([[i, 2 * i, 3 * i] for i in range(10)], np.float32))


def uploaded_spec(**data: Any) -> dict[str, Any]:
    raw = example("sum_of_two")
    raw["data"] = {"dataset_id": str(uuid.uuid4()), "target": "sum", **data}
    return load_spec(raw)


def test_the_target_column_is_y_and_the_other_columns_are_x() -> None:
    data = load_dataset(uploaded_spec(test_fraction=0.0)["data"], 0, False, SUMS)
    assert data.row_shape == (2,)
    np.testing.assert_array_equal(data.train.x.sum(axis=1), data.train.y)


def test_an_unknown_dataset_or_target_column_is_a_422_naming_the_field() -> None:
    spec = uploaded_spec()
    with pytest.raises(InvalidSpec) as raised:
        load_dataset(spec["data"], 0, False, None)
    assert "data.dataset_id" in raised.value.errors
    with pytest.raises(InvalidSpec) as raised:
        load_dataset({**spec["data"], "target": "total"}, 0, False, SUMS)
    assert raised.value.errors == {
        "data.target": [
            f"Dataset {spec['data']['dataset_id']} has no column 'total'. Its columns: a, b, sum."
        ]
    }


def test_preflight_checks_the_model_against_the_uploaded_columns() -> None:
    spec = uploaded_spec()
    spec["model"]["input_shape"] = [3]
    with pytest.raises(InvalidSpec) as raised:
        check_spec(spec, Settings(), uploaded=SUMS)
    assert "without 'sum'" in raised.value.errors["model.input_shape"][0]
    spec["model"]["input_shape"] = [2]
    assert check_spec(spec, Settings(), uploaded=SUMS)["total_params"] > 0


def test_uploaded_rows_count_towards_max_data_rows() -> None:
    with pytest.raises(InvalidSpec, match="MAX_DATA_ROWS"):
        check_spec(uploaded_spec(), Settings(max_data_rows=5), uploaded=SUMS)
    check_spec(uploaded_spec(), Settings(max_data_rows=10), uploaded=SUMS)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"dataset_id": str(uuid.uuid4())}, "data.target"),
        ({"dataset": "digits", "target": "y"}, "data.target"),
        ({"dataset": "digits", "dataset_id": str(uuid.uuid4()), "target": "y"}, "data"),
        ({"dataset_id": "not-a-uuid", "target": "y"}, "data.dataset_id"),
        ({"dataset_id": str(uuid.uuid4()), "target": "y", "y": [1]}, "data.y"),
    ],
)
def test_the_spec_names_an_uploaded_dataset_with_its_target_and_nothing_else(
    data: dict[str, Any], path: str
) -> None:
    raw = {**example("sum_of_two"), "data": data}
    with pytest.raises(InvalidSpec) as raised:
        load_spec(raw)
    assert path in raised.value.errors


@pytest.fixture
def http(tmp_path: Path) -> Any:
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # datasets never touch Redis
        artifact_root=str(tmp_path),
        max_data_rows=100,
        max_body_bytes=10_000,
    )
    return create_app(settings).test_client()


def test_an_uploaded_csv_is_201_with_its_location_and_readable_by_id(http: Any) -> None:
    response = http.post("/v1/datasets", data=SUM_CSV, content_type="text/csv")
    assert response.status_code == 201, response.get_json()
    meta = response.get_json()
    assert response.headers["Location"] == f"/v1/datasets/{meta['id']}"
    assert (meta["rows"], meta["columns"], meta["bytes"]) == (3, ["a", "b", "sum"], len(SUM_CSV))
    assert http.get(f"/v1/datasets/{meta['id']}").get_json() == meta


def test_an_uploaded_json_table_is_201(http: Any) -> None:
    response = http.post("/v1/datasets", json={"columns": ["x", "y"], "rows": [[1, 2]]})
    assert response.status_code == 201
    assert response.get_json()["rows"] == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "problem"),
    [
        (b"a,b\n1,x\n", "text/csv", 422, "/problems/invalid-request"),
        (b"a\n" + b"1\n" * 101, "text/csv", 422, "/problems/invalid-request"),
        (b"a\n" + b"1\n" * 6000, "text/csv", 413, "/problems/payload-too-large"),
        (b"a,b\n1,2\n", "text/plain", 415, "/problems/unsupported-media-type"),
        (b"[1, 2]", "application/json", 400, "/problems/malformed-request"),
    ],
)
def test_a_bad_upload_is_a_problem_naming_what_to_fix(
    http: Any, body: bytes, content_type: str, status: int, problem: str
) -> None:
    response = http.post("/v1/datasets", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["type"] == problem


@pytest.mark.parametrize("dataset_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_an_unknown_dataset_is_404(http: Any, dataset_id: str) -> None:
    response = http.get(f"/v1/datasets/{dataset_id}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_text_column_is_named_once_with_what_to_do() -> None:
    body = b"size,colour,y\n" + b"".join(b"%d,red,1\n" % i for i in range(30))
    errors = errors_of(parse_csv, body, 100)
    assert list(errors) == ["line 2"]
    [message] = errors["line 2"]
    assert message.startswith("Column 'colour' holds text (first at line 2: 'red').")
    assert "indices 0, 1, 2" in message


def test_a_typo_in_a_numeric_column_is_named_by_its_line() -> None:
    body = b"a,b\n" + b"".join(b"%d,2\n" % i for i in range(10)) + b"1,2x\n"
    assert list(errors_of(parse_csv, body, 100)) == ["line 12"]
