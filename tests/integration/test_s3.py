"""The artifact store on S3 (a local moto server, no internet): models appear whole or
not at all, are served through a local cache, and a real worker trains into it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import pytest
import s3fs
from moto.server import ThreadedMotoServer

from service.app import create_app
from service.config import Settings
from service.ml.artifacts import ArtifactStore
from service.ml.uploads import DatasetStore
from tests.helpers import example, finished_job, free_port, start_worker, stop, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A moto S3 server on a free loopback port; yields the standard AWS variables that
    point botocore at it (set in this process for the module's duration)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    nowhere = str(tmp_path_factory.mktemp("aws") / "none")  # no profile of this machine's
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_CONFIG_FILE": nowhere,
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield env
        s3fs.S3FileSystem.clear_instance_cache()  # none may outlive the server it knows
    server.stop()


@pytest.fixture
def root(s3_env: dict[str, str]) -> str:
    """An artifact root in a new bucket."""
    bucket = f"artifacts-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem().mkdir(bucket)
    return f"s3://{bucket}/keras"


def tiny_model() -> keras.Model:
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def test_saved_artifacts_read_back_load_from_the_cache_and_delete(
    root: str, tmp_path: Path
) -> None:
    store, job_id = ArtifactStore(root, cache_dir=tmp_path), str(uuid.uuid4())
    store.save(job_id, tiny_model(), {"metrics": {"loss": 0.5}})
    assert store.has_model(job_id)
    assert store.read(job_id, "metrics") == {"loss": 0.5}
    assert store.read(job_id, "history") is None
    assert store.recent_job_ids(5) == [job_id]

    local = store.local_model(job_id)
    assert local.parent == tmp_path / job_id
    assert keras.saving.load_model(local).input_shape == (None, 2)
    assert store.local_model(job_id) == local  # downloaded once

    assert store.delete(job_id) is True
    assert not store.has_model(job_id)
    assert store.read(job_id, "metrics") is None
    assert store.delete(job_id) is False
    assert not local.exists()


def test_expire_deletes_old_models_except_the_kept_ones(root: str) -> None:
    store = ArtifactStore(root)
    kept, old = str(uuid.uuid4()), str(uuid.uuid4())
    for job_id in (kept, old):
        store.save(job_id, tiny_model(), {})
    assert store.expire(older_than_s=3600, keep=set()) == []
    assert store.expire(older_than_s=-60, keep={kept}) == [old]  # all older than the future
    assert store.recent_job_ids(5) == [kept]


class ExplodingModel:
    """Fails in the middle of model.save, as a killed process would."""

    def save(self, path: Path) -> None:
        Path(path).write_bytes(b"half a model")
        raise OSError("disk full")


def test_a_crash_while_saving_the_model_leaves_no_model(root: str) -> None:
    store, job_id = ArtifactStore(root), str(uuid.uuid4())
    with pytest.raises(OSError, match="disk full"):
        store.save(job_id, ExplodingModel(), {"metrics": {}})
    assert not store.has_model(job_id)
    assert store.recent_job_ids(5) == []


def test_a_failed_model_upload_leaves_no_model_and_its_documents_are_cleaned_up(
    root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, job_id = ArtifactStore(root), str(uuid.uuid4())
    upload = store.fs.put_file

    def fail_on_the_model(local: str, remote: str, **kwargs: Any) -> None:
        if remote.endswith("/model.keras"):
            raise ConnectionError("connection reset")
        upload(local, remote, **kwargs)

    monkeypatch.setattr(store.fs, "put_file", fail_on_the_model)
    with pytest.raises(ConnectionError):
        store.save(job_id, tiny_model(), {"metrics": {"loss": 0.5}})
    assert store.read(job_id, "metrics") == {"loss": 0.5}  # the documents went up first
    assert not store.has_model(job_id)
    assert store.recent_job_ids(5) == []
    assert store.remove_partials(older_than_s=3600) == 0  # it may still be saving
    assert store.remove_partials(older_than_s=-60) == 1
    assert store.read(job_id, "metrics") is None


def test_an_uploaded_dataset_is_kept_in_the_bucket(settings: Settings, root: str) -> None:
    client = create_app(replace(settings, artifact_root=root)).test_client()
    response = client.post("/v1/datasets", data=b"a,b\n1,2\n3,4\n", content_type="text/csv")
    assert response.status_code == 201, response.get_json()
    meta = response.get_json()
    assert client.get(f"/v1/datasets/{meta['id']}").get_json() == meta
    table = DatasetStore(ArtifactStore(root)).load(meta["id"])
    assert table is not None
    assert table.values.tolist() == [[1, 2], [3, 4]]
    assert ArtifactStore(root).recent_job_ids(5) == []


def test_a_worker_trains_into_s3_and_the_api_predicts_from_it(
    settings: Settings, s3_env: dict[str, str], root: str, tmp_path: Path
) -> None:
    # A queue of its own: the session's worker (on local artifacts) must not take it.
    mine = replace(
        settings,
        queue_name=f"s3-{uuid.uuid4().hex[:8]}",
        artifact_root=root,
        artifact_cache=str(tmp_path / "api-cache"),
    )
    worker_env = {**s3_env, "ARTIFACT_CACHE": str(tmp_path / "worker-cache")}
    proc = start_worker(mine, tmp_path / "worker.log", env=worker_env)
    try:
        client = create_app(mine).test_client()
        spec = example("sum_of_two")
        spec["fit"]["epochs"] = 3
        response = client.post("/v1/jobs", json=spec)
        assert response.status_code == 202, response.get_json()
        job = finished_job(client, response.get_json()["id"])
        assert job["status"] == "finished", job["error"]
        # An export: the worker reads the model from S3 and uploads the built file.
        asked = client.post(f"/v1/models/{job['id']}/exports", json={"format": "tflite"})
        assert asked.status_code == 202, asked.get_json()
        export = wait_until(
            lambda: (
                (state := client.get(asked.headers["Location"]).get_json())["status"]
                in ("ready", "failed")
                and state
            ),
            timeout=120,
        )
        assert export["status"] == "ready", export
    finally:
        stop(proc)

    assert ArtifactStore(root).has_model(job["id"])
    assert not (Path(settings.artifact_root) / job["id"]).exists()
    response = client.post(job["links"]["predict"], json={"instances": [[10, 2]]})
    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["predictions"]) == 1
    # Served from its ONNX form, read from the bucket: the API keeps no local copy.
    assert not (tmp_path / "api-cache" / job["id"]).exists()

    listing = client.get(f"/v1/models/{job['id']}/artifacts").get_json()["artifacts"]
    assert {"model.keras", "model.onnx", "model.tflite", "spec.json"} <= {
        a["name"] for a in listing
    }
    for artifact in listing:  # streamed from the bucket
        body = client.get(artifact["links"]["download"]).data
        assert hashlib.sha256(body).hexdigest() == artifact["sha256"]
        assert len(body) == artifact["bytes"]
