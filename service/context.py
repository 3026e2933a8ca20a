"""The objects a request works with, built once per app by the factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from service.config import Settings
from service.errors import ModelUnavailable
from service.jobs import JobQueue, connect
from service.ml.artifacts import ArtifactStore
from service.ml.cache import ModelCache

if TYPE_CHECKING:
    from service.ml.predictor import Predictor

EXTENSION = "keras_service"
log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    jobs: JobQueue
    store: ArtifactStore
    models: ModelCache[Predictor]

    @classmethod
    def create(cls, settings: Settings) -> Services:
        store = ArtifactStore(settings.artifact_root)

        def load(job_id: str) -> Predictor:
            # Imported on first use: TensorFlow stays out of processes that never predict.
            from service.ml.predictor import load_predictor

            try:
                return load_predictor(store.model_path(job_id))
            except Exception:
                log.exception("cannot load the model of job %s", job_id)
                raise ModelUnavailable(
                    f"The model of job {job_id} could not be loaded; its files may be damaged."
                ) from None

        return cls(
            settings=settings,
            jobs=JobQueue(connect(settings), settings),
            store=store,
            models=ModelCache(load, settings.model_cache_size),
        )


def services() -> Services:
    """The current app's services."""
    return current_app.extensions[EXTENSION]
