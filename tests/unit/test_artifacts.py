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
    with pytest.raises(ValueError, match="Not a job ID"):
        store.job_dir(bad)
