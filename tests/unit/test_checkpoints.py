"""Checkpoints: a fit resumed from one goes on as if it had never stopped (weights,
optimizer state, early stopping's state, history), and a checkpoint is written whole."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.ml.artifacts import ArtifactStore
from service.ml.checkpoints import loads
from service.ml.training import train
from service.schemas.spec import load_spec
from tests.helpers import example

JOB_ID = "7f1e7a52-1a52-4b8c-9d1c-5d3c6a0e9b11"


def spec(**fit: Any) -> dict[str, Any]:
    raw = example("sum_of_two")
    # No shuffling and no dropout: two runs of the same epochs compute the same numbers,
    # so a resumed run can be compared with one that never stopped.
    raw["fit"].update({"epochs": 6, "shuffle": False, "validation_split": 0.2, **fit})
    return load_spec(raw)


def checkpoints_of(trained_spec: dict[str, Any]) -> tuple[Any, list[bytes]]:
    written: list[bytes] = []
    return train(trained_spec, write_checkpoint=written.append), written


def test_a_fit_resumed_from_a_checkpoint_goes_on_as_if_it_never_stopped() -> None:
    whole, written = checkpoints_of(spec())
    assert len(written) == 6  # checkpoint_every defaults to 1
    resume = loads(written[2])  # as if the worker died during epoch 4
    assert resume.epoch == 3
    assert resume.history["loss"] == whole.history["loss"][:3]

    resumed = train(spec(), resume=resume)
    assert resumed.epochs_run == 6
    # Epochs 4 to 6 again, from the same weights and Adam moments: the same numbers
    # (a fresh optimizer, or weights alone, would take other steps).
    np.testing.assert_allclose(resumed.history["loss"], whole.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(resumed.history["val_mae"], whole.history["val_mae"], rtol=1e-5)
    for ours, theirs in zip(resumed.model.get_weights(), whole.model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert resumed.seconds >= resume.fit_seconds


def test_early_stopping_resumes_with_its_best_weights_and_patience() -> None:
    stopping = {
        "monitor": "val_loss",
        "patience": 2,
        "min_delta": 0.5,
        "restore_best_weights": True,
    }
    fit = {"epochs": 40, "early_stopping": stopping}
    whole, written = checkpoints_of(spec(**fit))
    assert whole.epochs_run < 40  # it stopped early
    resume = loads(written[-2])  # the epoch before it stopped
    assert resume.best_weights is not None

    resumed = train(spec(**fit), resume=resume)
    assert resumed.epochs_run == whole.epochs_run
    assert resumed.best_epoch == whole.best_epoch
    for ours, theirs in zip(resumed.model.get_weights(), whole.model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_no_checkpoint_is_written_with_checkpoint_every_0_and_every_n_epochs_otherwise() -> None:
    assert checkpoints_of(spec(checkpoint_every=0))[1] == []
    _, written = checkpoints_of(spec(checkpoint_every=4))
    assert [loads(c).epoch for c in written] == [4]


def test_a_checkpoint_replaces_the_last_whole_and_goes_with_the_job(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    assert store.read_checkpoint(JOB_ID) is None
    store.write_checkpoint(JOB_ID, b"first")
    store.write_checkpoint(JOB_ID, b"second")
    assert store.read_checkpoint(JOB_ID) == b"second"
    # Nothing half-written is left beside it, and it is not a job directory.
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoints"]
    assert store.recent_job_ids(10) == []
    store.delete(JOB_ID)
    assert store.read_checkpoint(JOB_ID) is None
    store.delete_checkpoint(JOB_ID)  # no checkpoint: nothing to do


def test_a_checkpoint_is_read_without_pickle() -> None:
    out = io.BytesIO()
    np.savez(out, state=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        loads(out.getvalue())
