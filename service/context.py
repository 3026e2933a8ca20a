"""The objects a request works with, built once per app by the factory."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app

from service import metrics
from service.config import Settings
from service.errors import Conflict, JobNotFinished, ModelUnavailable, NotFound
from service.ml.artifacts import ArtifactStore
from service.ml.cache import ModelCache
from service.ml.digests import DigestCache
from service.store import connect
from service.store.aliases import AliasStore
from service.store.exports import ExportQueue
from service.store.jobs import JobQueue

if TYPE_CHECKING:
    from service.ml.predictor import Predictor

EXTENSION = "keras_service"
REVALIDATE_S = 1.0
log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    jobs: JobQueue
    artifacts: ArtifactStore
    models: ModelCache[Predictor]
    aliases: AliasStore
    exports: ExportQueue
    digests: DigestCache
    # When each cached model was last seen in the store: a job deleted through another
    # API process stops being served here within REVALIDATE_S.
    _checked: dict[str, float] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        artifacts = ArtifactStore(settings.artifact_root, settings.artifact_cache)

        def load(job_id: str) -> Predictor:
            # Imported on first use: TensorFlow stays out of processes that never predict.
            from service.ml.predictor import load_predictor

            started = time.perf_counter()
            try:
                predictor = load_predictor(
                    artifacts.local_model(job_id), artifacts.read(job_id, "classes")
                )
            except Exception:
                metrics.model_load_failed()
                log.exception("cannot load the model of job %s", job_id)
                raise ModelUnavailable(
                    f"The model of job {job_id} could not be loaded; its files may be damaged."
                ) from None
            metrics.model_loaded(time.perf_counter() - started)
            return predictor

        redis = connect(settings)
        jobs = JobQueue(redis, settings)
        return cls(
            settings=settings,
            jobs=jobs,
            artifacts=artifacts,
            models=ModelCache(load, settings.model_cache_size, metrics.cache_lookup),
            aliases=AliasStore(redis),
            exports=ExportQueue(jobs),
            digests=DigestCache(),
        )

    def predictor(self, job_id: str) -> Predictor:
        """The job's model, ready to predict; a cached one costs no Redis call, and a
        store check at most once a second (so deleted jobs stop being served)."""
        now = time.monotonic()
        if job_id in self.models and now - self._checked.get(job_id, 0.0) < REVALIDATE_S:
            return self.models.get(job_id)
        if not self.artifacts.has_model(job_id):
            self.models.discard(job_id)
            self.require_model(job_id)  # raises: not found, not finished, or missing
        self._checked[job_id] = now
        return self.models.get(job_id)

    def require_model(self, job_id: str) -> None:
        """Return if the job's artifacts are stored; else say why in the right status."""
        if self.artifacts.has_model(job_id):
            return
        record = self.jobs.get(job_id)
        if record is None:
            raise NotFound(f"No job {job_id}.")
        if record.status in ("failed", "canceled"):
            raise Conflict(
                f"Job {job_id} {record.status}: it has no model, and never will. Submit its "
                "spec again to train one.",
                job_status=record.status,
            )
        if record.status != "finished":
            raise JobNotFinished(
                f"Job {job_id} is {record.status}; its model is available once it has finished.",
                job_status=record.status,
            )
        raise ModelUnavailable(
            f"Job {job_id} finished, but its model is missing from the artifact store."
        )

    def preload(self) -> list[str]:
        """Load the models PRELOAD_MODELS names; return the IDs loaded."""
        wanted = self.settings.preload_models.strip()
        if wanted == "*":
            ids = self.artifacts.recent_job_ids(self.models.size)
        else:
            ids = [i.strip() for i in wanted.split(",") if i.strip()]
        loaded = []
        for job_id in ids:
            try:
                self.models.get(job_id)
                loaded.append(job_id)
            except Exception:  # a bad ID must not stop the API from starting
                log.warning("PRELOAD_MODELS: cannot load %s", job_id)
        return loaded


def services() -> Services:
    """The current app's services."""
    return current_app.extensions[EXTENSION]
