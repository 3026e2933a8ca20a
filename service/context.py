"""The objects a request works with, built once per app by the factory."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from service import metrics
from service.config import Settings
from service.errors import (
    Conflict,
    InvalidInput,
    InvalidSpec,
    JobNotFinished,
    ModelUnavailable,
    NotFound,
)
from service.ml.artifacts import ONNX_FILE, ArtifactStore
from service.ml.cache import ModelCache
from service.ml.digests import DigestCache
from service.rollouts.payloads import PayloadLog
from service.rollouts.recorder import Recorder
from service.rollouts.routing import Route
from service.rollouts.shadow import ShadowRunner
from service.rollouts.traffic import Routed, Traffic
from service.schemas.fields import is_uuid
from service.store import connect
from service.store.aliases import AliasStore
from service.store.exports import ExportQueue
from service.store.jobs import JobQueue
from service.store.rollouts import RolloutStore
from service.store.sweeps import SweepStore

if TYPE_CHECKING:
    import numpy as np

    from service.ml.predictor import Predictor
    from service.sweeps.runner import SweepRunner

EXTENSION = "keras_service"
# How often each process asks the store whether the models it serves still exist: a job
# deleted through another API process stops being served here within about this long.
REVALIDATE_S = 1.0
# How long a client waits for a model trained before models were stored as ONNX: a
# worker converts it in about a second.
CONVERTING_RETRY_S = 2
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
    sweeps: SweepStore
    rollouts: RolloutStore
    traffic: Traffic
    _revalidating: threading.Thread | None = field(default=None, repr=False)
    _revalidation_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        artifacts = ArtifactStore(settings.artifact_root, settings.artifact_cache)
        redis = connect(settings)
        jobs = JobQueue(redis, settings)
        rollouts = RolloutStore(redis, settings.feedback_ttl_s)
        recorder = Recorder(rollouts)

        def load(job_id: str) -> Predictor:  # `services`, once it exists
            return services._load(job_id)

        def run_model(job_id: str, batch: Any) -> tuple[Any, dict[str, Any] | None]:
            return services.run_model(job_id, batch)

        services = cls(
            settings=settings,
            jobs=jobs,
            artifacts=artifacts,
            models=ModelCache(
                load,
                settings.model_cache_size,
                metrics.cache_lookup,
                max_bytes=settings.model_cache_bytes,
                weigh=lambda predictor: predictor.nbytes,
                on_weight=metrics.cache_weight,
            ),
            aliases=AliasStore(redis),
            exports=ExportQueue(jobs),
            digests=DigestCache(),
            sweeps=SweepStore(redis),
            rollouts=rollouts,
            traffic=Traffic(
                recorder,
                ShadowRunner(run_model, recorder, settings.shadow_queue_size),
                PayloadLog(
                    artifacts,
                    settings.payload_log_rate,
                    settings.payload_log_max_bytes,
                    settings.payload_log_max_age_s,
                ),
            ),
        )
        return services

    def sweep_runner(self) -> SweepRunner:
        from service.sweeps.runner import SweepRunner  # Optuna: ~0.25 s, on first use

        return SweepRunner(self.sweeps, self.jobs, self.aliases, self.settings)

    def predictor(self, job_id: str) -> Predictor:
        """The job's model, ready to predict. A loaded one costs no store or Redis call:
        a thread of this process checks the store for it (`_revalidate`)."""
        if job_id not in self.models:
            self.require_model(job_id)  # raises: not found, not finished, or missing
        predictor = self.models.get(job_id)
        self._start_revalidating()
        return predictor

    def run_model(self, job_id: str, batch: np.ndarray) -> tuple[np.ndarray, dict[str, Any] | None]:
        """A model's outputs and class map for a batch checked elsewhere against another
        model (a shadow's): InvalidInput when this one takes another shape."""
        predictor = self.predictor(job_id)
        if batch.shape[1:] != predictor.input_shape:
            raise InvalidInput(
                {
                    "shape": [
                        f"Expected rows of {list(predictor.input_shape)}. Received: "
                        f"{list(batch.shape[1:])}."
                    ]
                }
            )
        return predictor.predict(batch), predictor.classes

    def close(self) -> None:
        """Finish this process's rollout work: the shadow queue, the payload log's open
        files, the last counters (the process is stopping)."""
        self.traffic.shadows.drain()
        self.traffic.payloads.close()
        self.traffic.recorder.flush()

    def _load(self, job_id: str) -> Predictor:
        """Load a job's ONNX model into a session. A model stored before models were
        stored as ONNX is converted by a worker first (the client is told to retry)."""
        from service.ml.predictor import Predictor  # ONNX Runtime: ~0.1 s, on first use

        started = time.perf_counter()
        onnx_model = self.artifacts.read_bytes(job_id, ONNX_FILE)
        if onnx_model is None:
            raise self._converting(job_id)
        try:
            predictor = Predictor(onnx_model, self.artifacts.read(job_id, "classes"))
        except Exception:
            metrics.model_load_failed()
            log.exception("cannot load the model of job %s", job_id)
            raise ModelUnavailable(
                f"The model of job {job_id} could not be loaded; its files may be damaged."
            ) from None
        metrics.model_loaded(time.perf_counter() - started)
        return predictor

    def _converting(self, job_id: str) -> ModelUnavailable:
        """Have a worker convert a stored model to ONNX (once, however often it is
        asked); say when to come back, or why it cannot be served."""
        build = self.exports.request(job_id, "onnx")
        if build.error is not None:
            return ModelUnavailable(
                f"The model of job {job_id} cannot be served: {build.error['detail']}",
                retry_after_s=60,
            )
        return ModelUnavailable(
            f"The model of job {job_id} is being converted for serving; try again in a "
            "few seconds.",
            retry_after_s=CONVERTING_RETRY_S,
        )

    def _start_revalidating(self) -> None:
        # Started by the first prediction, in the process that serves it (gunicorn
        # forks its workers before they import the app, so no thread crosses a fork).
        if self._revalidating is not None:
            return
        with self._revalidation_lock:
            if self._revalidating is None:
                self._revalidating = threading.Thread(
                    target=self._revalidate, name="model-revalidation", daemon=True
                )
                self._revalidating.start()

    def _revalidate(self) -> None:
        """For ever: unload the models whose job is gone from the store. Only a definite
        "no such file" unloads one; a store that fails to answer changes nothing."""
        while True:
            time.sleep(REVALIDATE_S)
            for job_id in self.models.loaded():
                try:
                    stored = self.artifacts.model_stored(job_id)
                except Exception as exc:  # the store did not answer: keep serving
                    log.debug("revalidating %s: %s", job_id, exc)
                    continue
                if not stored:
                    log.info("model of job %s removed from the store: unloaded", job_id)
                    self.models.discard(job_id)

    def require_model(self, job_id: str) -> None:
        """Return if the job's artifacts are stored; else say why in the right status."""
        if self.artifacts.has_model(job_id):
            return
        record = self.jobs.get(job_id)
        if record is None:
            raise NotFound(f"No job {job_id}.")
        if record.status in ("failed", "canceled", "pruned"):
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

    def check_init_from(self, spec: dict[str, Any]) -> None:
        """Check a spec's `init_from` (a warm start) before it is queued: its source is a
        finished job with a model, and its layers fit the new model's. The job ID (an
        alias resolved) is written into the spec, so the worker starts from the model
        checked here even if the alias moves meanwhile."""
        init_from = spec.get("init_from")
        if not init_from:
            return
        from service.ml.warm_start import check  # Keras: imported on first use

        try:
            job_id = self.resolve(init_from["job_id"])
            self.require_model(job_id)
        except (NotFound, Conflict, JobNotFinished, ModelUnavailable) as exc:
            raise InvalidSpec({"init_from.job_id": [exc.detail]}) from None
        check(spec["model"], init_from, self.artifacts.local_model(job_id))
        init_from["job_id"] = job_id

    def resolve(self, ref: str) -> str:
        """The job a model reference names: its job ID, or the primary target of an
        alias (NotFound for an unknown alias)."""
        return ref if is_uuid(ref) else self._route(ref).primary

    def route(self, ref: str, routing_key: str | None = None) -> Routed:
        """The job that answers a prediction for `ref`: the job it names, or one of an
        alias's targets by weight (by `routing_key`'s hash when given)."""
        if is_uuid(ref):
            return Routed(ref)
        route = self._route(ref)
        return Routed(route.pick(routing_key), ref, route)

    def _route(self, name: str) -> Route:
        route = self.aliases.resolve(name)
        if route is None:
            raise NotFound(f"No alias {name!r}.")
        return route

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
