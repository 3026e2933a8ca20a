"""Artifacts appear whole or not at all, under a directory per job ID."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import keras
import pytest

from service.ml.artifacts import ArtifactStore


def tiny_model() -> keras.Model:
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def test_save_writes_the_model_and_documents(tmp_path: Path) -> None:
    store, job_id = ArtifactStore(tmp_path), str(uuid.uuid4())
    store.save(job_id, tiny_model(), {"metrics": {"loss": 0.5}})
    assert store.has_model(job_id)
    assert store.read(job_id, "metrics") == {"loss": 0.5}
    assert store.read(job_id, "history") is None
    assert [p.name for p in tmp_path.iterdir()] == [job_id]


class ExplodingModel:
    """Writes half a file, then fails, as a crash in the middle of model.save would."""

    def save(self, path: Path) -> None:
        Path(path).write_bytes(b"half a model")
        raise OSError("disk full")


def test_a_failed_save_leaves_nothing_that_predict_would_load(tmp_path: Path) -> None:
    store, job_id = ArtifactStore(tmp_path), str(uuid.uuid4())
    with pytest.raises(OSError, match="disk full"):
        store.save(job_id, ExplodingModel(), {"metrics": {}})
    assert not store.has_model(job_id)
    assert list(tmp_path.iterdir()) == []


def test_stale_partial_directories_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    stale, fresh = tmp_path / ".partial-a", tmp_path / ".partial-b"
    stale.mkdir(), fresh.mkdir()
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert ArtifactStore(tmp_path).remove_partials(older_than_s=3600) == 1
    assert [p.name for p in tmp_path.iterdir()] == [".partial-b"]


@pytest.mark.parametrize("bad", ["../etc", "..", "a/b", "not-a-uuid", str(uuid.uuid4()) + "/.."])
def test_job_ids_that_are_not_uuids_cannot_reach_the_file_system(tmp_path: Path, bad: str) -> None:
    store = ArtifactStore(tmp_path)
    for method in (store.job_dir, store.has_model, store.local_model, store.delete):
        with pytest.raises(ValueError, match="Not a job ID"):
            method(bad)


def saved(store: ArtifactStore, age_s: float = 0.0) -> str:
    """A job with a stored model, saved `age_s` ago."""
    job_id = str(uuid.uuid4())
    store.save(job_id, tiny_model(), {"metrics": {"loss": 0.5}})
    when = time.time() - age_s
    os.utime(store.model_path(job_id), (when, when))
    return job_id


def test_a_file_url_root_is_the_same_store_as_its_path(tmp_path: Path) -> None:
    job_id = saved(ArtifactStore(f"file://{tmp_path}"))
    assert ArtifactStore(tmp_path).read(job_id, "metrics") == {"loss": 0.5}


def test_the_local_model_of_a_local_store_is_its_model_file(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, cache_dir=tmp_path / "cache")
    job_id = saved(store)
    assert store.local_model(job_id) == tmp_path / job_id / "model.keras"
    assert keras.saving.load_model(store.local_model(job_id)).input_shape == (None, 2)
    assert not (tmp_path / "cache").exists()


def test_saving_again_replaces_the_earlier_artifacts_whole(tmp_path: Path) -> None:
    store, job_id = ArtifactStore(tmp_path), str(uuid.uuid4())
    store.save(job_id, tiny_model(), {"metrics": {"loss": 0.5}, "classes": {"kind": "binary"}})
    store.save(job_id, tiny_model(), {"metrics": {"loss": 0.1}})
    assert store.read(job_id, "metrics") == {"loss": 0.1}
    assert store.read(job_id, "classes") is None
    assert [p.name for p in tmp_path.iterdir()] == [job_id]


def test_delete_removes_every_artifact_of_a_job_and_says_whether_there_were_any(
    tmp_path: Path,
) -> None:
    store = ArtifactStore(tmp_path)
    job_id, other = saved(store), saved(store)
    assert store.delete(job_id) is True
    assert not store.has_model(job_id)
    assert store.read(job_id, "metrics") is None
    assert store.delete(job_id) is False
    assert [p.name for p in tmp_path.iterdir()] == [other]


def test_expire_deletes_old_models_except_the_kept_ones(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    old, kept, recent = saved(store, 7200), saved(store, 7200), saved(store, 10)
    assert store.expire(older_than_s=3600, keep={kept}) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([kept, recent])


def test_recent_job_ids_lists_jobs_with_models_newest_first_and_nothing_else(
    tmp_path: Path,
) -> None:
    store = ArtifactStore(tmp_path)
    older, newer = saved(store, 60), saved(store, 5)
    (tmp_path / "datasets" / str(uuid.uuid4())).mkdir(parents=True)
    (tmp_path / str(uuid.uuid4())).mkdir()  # a job directory without a model
    (tmp_path / ".partial-x").mkdir()
    assert store.recent_job_ids(10) == [newer, older]
    assert store.recent_job_ids(1) == [newer]


def test_a_store_whose_root_does_not_exist_yet_is_empty(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "not-yet")
    assert store.recent_job_ids(5) == []
    assert store.expire(older_than_s=0, keep=set()) == []
    assert store.remove_partials(older_than_s=0) == 0
    assert not store.has_model(str(uuid.uuid4()))


# An object store in memory (fsspec's memory://): no rename, writes go up file by file.
@pytest.fixture
def remote(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(f"memory://artifacts-{uuid.uuid4().hex}", cache_dir=tmp_path / "cache")


class FailingUpload:
    """Fails the model's upload after the documents went up, as a crash would."""

    def __init__(self, store: ArtifactStore) -> None:
        self.put_file, self.store = store.fs.put_file, store

    def __call__(self, local: str, remote: str, **kwargs: object) -> None:
        if remote.endswith("model.keras"):
            raise ConnectionError("connection reset")
        self.put_file(local, remote, **kwargs)


def test_on_an_object_store_a_failed_model_upload_leaves_no_model(
    remote: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = str(uuid.uuid4())
    monkeypatch.setattr(remote.fs, "put_file", FailingUpload(remote))
    with pytest.raises(ConnectionError):
        remote.save(job_id, tiny_model(), {"metrics": {"loss": 0.5}})
    assert not remote.has_model(job_id)
    assert remote.recent_job_ids(5) == []


def test_on_an_object_store_models_are_downloaded_once_into_the_cache(
    remote: ArtifactStore, tmp_path: Path
) -> None:
    job_id = str(uuid.uuid4())
    remote.save(job_id, tiny_model(), {})
    local = remote.local_model(job_id)
    assert local.parent == tmp_path / "cache" / job_id
    assert keras.saving.load_model(local).input_shape == (None, 2)
    assert remote.local_model(job_id) == local
    remote.save(job_id, keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]), {})
    replaced = remote.local_model(job_id)
    assert keras.saving.load_model(replaced).input_shape == (None, 3)
    assert list(local.parent.iterdir()) == [replaced]
    assert remote.delete(job_id) is True
    assert not local.parent.exists()
    with pytest.raises(FileNotFoundError):
        remote.local_model(job_id)


def test_on_an_object_store_unfinished_jobs_are_removed_once_old(remote: ArtifactStore) -> None:
    finished, unfinished = str(uuid.uuid4()), str(uuid.uuid4())
    remote.save(finished, tiny_model(), {"metrics": {}})
    remote.fs.pipe_file(remote.path(unfinished, "metrics.json"), b"{}")
    assert remote.remove_partials(older_than_s=3600) == 0
    assert remote.remove_partials(older_than_s=-1) == 1
    assert remote.read(unfinished, "metrics") is None
    assert remote.has_model(finished)


def test_files_lists_a_jobs_plain_files_by_name_and_nothing_hidden(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    job_id = saved(store)
    (tmp_path / job_id / ".partial-export").write_bytes(b"half")
    (tmp_path / job_id / "a-directory").mkdir()
    files = store.files(job_id)
    assert [f.name for f in files] == ["metrics.json", "model.keras"]
    assert files[0].size == len(b'{\n  "loss": 0.5\n}')
    assert store.files(str(uuid.uuid4())) == []


@pytest.mark.parametrize("bad", ["", "..", ".partial-x", "a/b", "../model.keras"])
def test_open_refuses_anything_but_a_plain_file_name(tmp_path: Path, bad: str) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(ValueError, match="Not an artifact name"):
        store.open(saved(store), bad)


def test_add_file_publishes_a_file_whole_and_lists_it_with_a_new_version(
    tmp_path: Path,
) -> None:
    store = ArtifactStore(tmp_path / "store")
    job_id = saved(store)
    built = tmp_path / "built.tflite"
    built.write_bytes(b"first")
    store.add_file(job_id, "model.tflite", built)
    first = {f.name: f for f in store.files(job_id)}["model.tflite"]
    built.write_bytes(b"second")
    store.add_file(job_id, "model.tflite", built)
    second = {f.name: f for f in store.files(job_id)}["model.tflite"]
    with store.open(job_id, "model.tflite") as f:
        assert f.read() == b"second"
    assert first.version != second.version
    assert store.has_model(job_id)
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [job_id]  # no leftovers


def test_add_file_never_brings_back_a_deleted_job(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    job_id = saved(store)
    store.delete(job_id)
    built = tmp_path / "model.tflite"
    built.write_bytes(b"late")
    with pytest.raises(FileNotFoundError):
        store.add_file(job_id, "model.tflite", built)
    assert list((tmp_path / "store").iterdir()) == []


def test_on_an_object_store_added_files_are_listed_and_read_back(
    remote: ArtifactStore, tmp_path: Path
) -> None:
    job_id = str(uuid.uuid4())
    remote.save(job_id, tiny_model(), {"spec": {}})
    built = tmp_path / "savedmodel.tar.gz"
    built.write_bytes(b"archive")
    remote.add_file(job_id, "savedmodel.tar.gz", built)
    assert [f.name for f in remote.files(job_id)] == [
        "model.keras",
        "savedmodel.tar.gz",
        "spec.json",
    ]
    with remote.open(job_id, "savedmodel.tar.gz") as f:
        assert f.read() == b"archive"
