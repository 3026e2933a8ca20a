"""Taking a trained model elsewhere: its files listed and downloaded with their sha256,
and exports built once by the real worker that TensorFlow's own runtimes load and that
predict what the service predicts."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
from rq import Queue
from sklearn.datasets import load_digits

from service.app import create_app
from service.config import Settings
from service.store import connect
from service.store.exports import ExportQueue
from service.store.jobs import JobQueue, queue_name
from tests.helpers import example, wait_until

pytestmark = [
    pytest.mark.integration,
    # tf.lite.Interpreter is the runtime the exports are checked with; its successor is
    # another package (ai_edge_litert).
    pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated"),
]

DOCUMENTS = {"spec.json", "history.json", "metrics.json", "summary.json"}
ROWS = {
    "digits": load_digits().data[:32].astype(np.float32),
    "sum_of_two": np.random.default_rng(0).uniform(-10, 10, (32, 2)).astype(np.float32),
}
TOLERANCE = {"savedmodel": 1e-5, "litert": 1e-4, "onnx": 1e-5}
# Each format's file (`tflite` is LiteRT's former name, still accepted).
FILES = {"savedmodel": "savedmodel.tar.gz", "litert": "model.tflite", "onnx": "model.onnx"}


def listing(client: Any, ref: str) -> dict[str, dict[str, Any]]:
    response = client.get(f"/v1/models/{ref}/artifacts")
    assert response.status_code == 200, response.get_json()
    return {a["name"]: a for a in response.get_json()["artifacts"]}


def download(client: Any, url: str, **headers: str) -> Any:
    return client.get(url, headers=headers)


def our_predictions(client: Any, job_id: str, rows: np.ndarray) -> np.ndarray:
    response = client.post(f"/v1/models/{job_id}/predict", json={"instances": rows.tolist()})
    assert response.status_code == 200, response.get_json()
    return np.asarray(response.get_json()["predictions"], dtype=np.float32)


def savedmodel_predictions(content: bytes, rows: np.ndarray, where: Path) -> np.ndarray:
    with tarfile.open(fileobj=io.BytesIO(content)) as archive:
        archive.extractall(where, filter="data")
    assert (where / "saved_model.pb").is_file()  # the layout of a TF Serving version
    signature = tf.saved_model.load(str(where)).signatures["serving_default"]
    return signature(input=tf.constant(rows))["output"].numpy()


def tflite_predictions(content: bytes, rows: np.ndarray) -> np.ndarray:
    runner = tf.lite.Interpreter(model_content=content).get_signature_runner("serving_default")
    return runner(input=rows)["output"]


def finished_export(client: Any, url: str, timeout: float = 180) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        state = client.get(url).get_json()
        return state if state["status"] in ("ready", "failed") else None

    return wait_until(ended, timeout=timeout, interval=0.1)


def copied_job(settings: Settings, job_id: str) -> str:
    """A new job ID whose artifacts are a copy of `job_id`'s, without its exports (and
    with no job record)."""
    copy = str(uuid.uuid4())
    root = Path(settings.artifact_root)
    shutil.copytree(root / job_id, root / copy, ignore=shutil.ignore_patterns("*.tflite", "*.gz"))
    return copy


# Artifacts


def test_every_listed_file_downloads_with_its_size_and_sha256(client: Any, trained: Any) -> None:
    job_id = trained("digits")["id"]
    files = listing(client, job_id)
    assert {"model.keras", "classes.json", *DOCUMENTS} <= set(files)
    for name, entry in files.items():
        assert entry["links"]["download"] == f"/v1/models/{job_id}/artifacts/{name}"
        response = download(client, entry["links"]["download"])
        assert response.status_code == 200
        assert hashlib.sha256(response.data).hexdigest() == entry["sha256"]
        assert len(response.data) == entry["bytes"] == int(response.headers["Content-Length"])
        assert response.headers["ETag"] == f'"{entry["sha256"]}"'
        assert response.headers["Content-Disposition"] == f"attachment; filename={name}"
    spec = download(client, files["spec.json"]["links"]["download"])
    assert spec.mimetype == "application/json"
    assert spec.get_json()["name"] == example("digits")["name"]
    model = download(client, files["model.keras"]["links"]["download"])
    assert model.mimetype == "application/octet-stream"


def test_a_download_is_revalidated_by_its_etag(client: Any, trained: Any) -> None:
    url = f"/v1/models/{trained('digits')['id']}/artifacts/model.keras"
    etag = download(client, url).headers["ETag"]
    unchanged = download(client, url, **{"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.data == b""
    assert unchanged.headers["ETag"] == etag
    assert download(client, url, **{"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "../spec.json",
        "..%2Fspec.json",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "spec.json%00",
        "%2Fetc%2Fpasswd",
        ".partial-x",
        "SPEC.JSON",
        "model.tflite",
        "nothing.json",
    ],
)
def test_a_name_that_is_not_listed_is_404(client: Any, trained: Any, name: str) -> None:
    response = client.get(f"/v1/models/{trained('digits')['id']}/artifacts/{name}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_an_unknown_model_is_404(client: Any) -> None:
    for path in (f"{uuid.uuid4()}/artifacts", f"{uuid.uuid4()}/artifacts/spec.json"):
        assert client.get(f"/v1/models/{path}").status_code == 404
    assert client.get("/v1/models/no-such-alias/artifacts").status_code == 404
    assert (
        client.post(f"/v1/models/{uuid.uuid4()}/exports", json={"format": "tflite"}).status_code
        == 404
    )


def test_an_unfinished_job_has_no_artifacts_or_exports_yet(settings: Settings) -> None:
    idle = create_app(replace(settings, queue_name=f"exports-idle-{uuid.uuid4().hex[:8]}"))
    client = idle.test_client()
    job_id = client.post("/v1/jobs", json=example("digits")).get_json()["id"]
    try:
        for response in (
            client.get(f"/v1/models/{job_id}/artifacts"),
            client.get(f"/v1/models/{job_id}/artifacts/spec.json"),
            client.post(f"/v1/models/{job_id}/exports", json={"format": "savedmodel"}),
            client.get(f"/v1/models/{job_id}/exports/savedmodel"),
        ):
            assert response.status_code == 409
            assert response.get_json()["job_status"] == "queued"
    finally:
        client.post(f"/v1/jobs/{job_id}/cancel")


def test_reading_files_needs_a_read_key_and_asking_for_an_export_a_full_one(
    settings: Settings, trained: Any
) -> None:
    reader, admin = "reader-key-0123456789", "admin-key-0123456789"
    client = create_app(replace(settings, api_keys=f"{reader}:read,{admin}:full")).test_client()
    job_id = trained("digits")["id"]
    read, full = ({"Authorization": f"Bearer {key}"} for key in (reader, admin))
    for url in (f"/v1/models/{job_id}/artifacts", f"/v1/models/{job_id}/artifacts/spec.json"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers=read).status_code == 200
    export = f"/v1/models/{job_id}/exports"
    assert client.post(export, json={"format": "x"}, headers=read).status_code == 403
    assert client.post(export, json={"format": "x"}, headers=full).status_code == 422
    assert client.get(f"{export}/tflite").status_code == 401


# Exports


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "coreml"}, "format"),
        ({"format": 3}, "format"),
        ({}, "format"),
        ({"format": "tflite", "quantize": True}, "quantize"),
    ],
)
def test_a_bad_export_request_is_422_naming_the_field(
    client: Any, trained: Any, body: dict[str, Any], field: str
) -> None:
    response = client.post(f"/v1/models/{trained('digits')['id']}/exports", json=body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [field]
    if field == "format" and isinstance(body.get("format"), str):
        assert "savedmodel, litert, onnx, tflite" in response.get_json()["errors"]["format"][0]


def test_an_unknown_export_format_is_404(client: Any, trained: Any) -> None:
    assert client.get(f"/v1/models/{trained('digits')['id']}/exports/coreml").status_code == 404


@pytest.mark.parametrize("recipe", ["digits", "sum_of_two"])
@pytest.mark.parametrize("export_format", ["savedmodel", "litert"])
def test_an_export_is_built_once_and_predicts_what_the_service_predicts(
    client: Any,
    trained: Any,
    settings: Settings,
    tmp_path: Path,
    recipe: str,
    export_format: str,
) -> None:
    job_id = trained(recipe)["id"]
    alias = f"exports-{uuid.uuid4().hex[:8]}"
    assert client.put(f"/v1/aliases/{alias}", json={"job_id": job_id}).status_code == 201

    asked = client.post(f"/v1/models/{alias}/exports", json={"format": export_format})
    assert asked.status_code == 202, asked.get_json()
    status_url = f"/v1/models/{job_id}/exports/{export_format}"
    assert asked.headers["Location"] == status_url
    assert asked.get_json() == {
        "format": export_format,
        "status": asked.get_json()["status"],
        "links": {"self": status_url},
    }
    assert asked.get_json()["status"] in ("queued", "started")

    ready = finished_export(client, status_url)
    assert ready["status"] == "ready", ready
    name = FILES[export_format]
    entry = listing(client, alias)[name]
    assert ready["links"]["download"] == entry["links"]["download"]
    stored = Path(settings.artifact_root, job_id, name).stat()

    again = client.post(f"/v1/models/{job_id}/exports", json={"format": export_format})
    assert again.status_code == 200
    assert again.get_json() == ready
    assert Path(settings.artifact_root, job_id, name).stat().st_mtime_ns == stored.st_mtime_ns

    content = download(client, entry["links"]["download"]).data
    assert hashlib.sha256(content).hexdigest() == entry["sha256"]
    rows = ROWS[recipe]
    if export_format == "savedmodel":
        theirs = savedmodel_predictions(content, rows, tmp_path / "1")
    else:
        theirs = tflite_predictions(content, rows)
    ours = our_predictions(client, job_id, rows)
    difference = float(np.abs(theirs - ours).max())
    assert theirs.shape == ours.shape
    assert difference <= TOLERANCE[export_format]


def test_tflite_is_litert_under_its_former_name(
    settings: Settings, trained: Any, client: Any
) -> None:
    job_id = copied_job(settings, trained("sum_of_two")["id"])
    asked = client.post(f"/v1/models/{job_id}/exports", json={"format": "tflite"})
    assert asked.status_code == 202, asked.get_json()
    assert asked.get_json()["format"] == "litert"
    assert asked.headers["Location"] == f"/v1/models/{job_id}/exports/litert"
    ready = finished_export(client, f"/v1/models/{job_id}/exports/tflite")
    assert ready["status"] == "ready", ready
    assert ready == client.get(f"/v1/models/{job_id}/exports/litert").get_json()
    assert ready["links"]["download"].endswith("/model.tflite")


@pytest.mark.parametrize("recipe", ["digits", "sum_of_two"])
def test_the_onnx_export_is_the_served_model_ready_from_training(
    client: Any, trained: Any, recipe: str
) -> None:
    job_id = trained(recipe)["id"]
    asked = client.post(f"/v1/models/{job_id}/exports", json={"format": "onnx"})
    assert asked.status_code == 200, asked.get_json()  # stored when the job finished
    assert asked.get_json()["status"] == "ready"
    entry = listing(client, job_id)["model.onnx"]
    assert asked.get_json()["links"]["download"] == entry["links"]["download"]
    content = download(client, entry["links"]["download"]).data
    assert hashlib.sha256(content).hexdigest() == entry["sha256"]
    session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
    rows = ROWS[recipe]
    theirs = session.run(None, {session.get_inputs()[0].name: rows})[0]
    ours = our_predictions(client, job_id, rows)
    assert theirs.shape == ours.shape
    assert float(np.abs(theirs - ours).max()) <= TOLERANCE["onnx"]


def test_asking_again_while_an_export_waits_queues_no_second_build(
    settings: Settings, trained: Any
) -> None:
    idle = replace(settings, queue_name=f"exports-idle-{uuid.uuid4().hex[:8]}")
    client = create_app(idle).test_client()
    job_id = copied_job(settings, trained("sum_of_two")["id"])
    answers = [
        client.post(f"/v1/models/{job_id}/exports", json={"format": "litert"}) for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert {a.get_json()["status"] for a in answers} == {"queued"}
    build_id = ExportQueue(JobQueue(connect(idle), idle)).build_id(job_id, "litert")
    queue = Queue(queue_name(idle, "high"), connection=connect(idle))
    assert queue.job_ids == [build_id]
    assert client.get(f"/v1/models/{job_id}/exports/litert").get_json()["status"] == "queued"
    assert client.get(f"/v1/models/{job_id}/exports/savedmodel").status_code == 404


def test_a_failed_build_reports_why_and_is_retried_when_asked_again(
    client: Any, settings: Settings, trained: Any, worker: Path
) -> None:
    job_id = copied_job(settings, trained("sum_of_two")["id"])
    Path(settings.artifact_root, job_id, "model.keras").write_bytes(b"not a model")
    status_url = f"/v1/models/{job_id}/exports/savedmodel"

    assert (
        client.post(f"/v1/models/{job_id}/exports", json={"format": "savedmodel"}).status_code
        == 202
    )
    failed = finished_export(client, status_url)
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "/problems/export-failed"
    assert "Traceback" not in failed["error"]["detail"]
    assert "download" not in failed["links"]
    assert "savedmodel.tar.gz" not in listing(client, job_id)

    retried = client.post(f"/v1/models/{job_id}/exports", json={"format": "savedmodel"})
    assert retried.status_code == 202
    assert retried.get_json()["status"] in ("queued", "started")
    assert finished_export(client, status_url)["status"] == "failed"
