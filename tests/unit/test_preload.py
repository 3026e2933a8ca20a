"""PRELOAD_MODELS: models loaded when an API process starts, not on first use."""

from __future__ import annotations

import uuid
from pathlib import Path

import keras

from service.app import create_app
from service.config import Settings
from service.context import EXTENSION
from service.ml.artifacts import ONNX_FILE, ArtifactStore
from service.ml.conversion import convert, sample_rows


def stored_models(root: Path, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for job_id in ids:
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        onnx_model = convert(model, sample_rows(model))
        ArtifactStore(root).save(job_id, model, {}, files={ONNX_FILE: onnx_model})
    return ids


def test_named_models_are_loaded_at_start_and_bad_names_skipped(tmp_path: Path) -> None:
    [job_id] = stored_models(tmp_path, 1)
    settings = Settings(artifact_root=str(tmp_path), preload_models=f"not-a-job, {job_id}")
    services = create_app(settings).extensions[EXTENSION]
    assert services.preload() == [job_id]
    assert job_id in services.models


def test_star_loads_the_most_recent_models_up_to_the_cache_size(tmp_path: Path) -> None:
    ids = stored_models(tmp_path, 3)
    settings = Settings(artifact_root=str(tmp_path), preload_models="*", model_cache_size=2)
    services = create_app(settings).extensions[EXTENSION]
    assert sorted(services.preload()) == sorted(ids[1:])


def test_nothing_is_preloaded_by_default(tmp_path: Path) -> None:
    stored_models(tmp_path, 1)
    assert create_app(Settings(artifact_root=str(tmp_path))).extensions[EXTENSION].preload() == []
