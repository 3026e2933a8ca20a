"""The job functions RQ runs (importable by dotted name, kept small)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from rq import get_current_job

from service.config import Settings
from service.errors import JobCanceled, ServiceError, TrainingFailed, TrainingTimedOut
from service.jobs import JobReporter
from service.ml.artifacts import ArtifactStore
from service.ml.training import train as train_model
from service.ml.uploads import DatasetStore

log = logging.getLogger(__name__)
_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """Called once by the worker at start; jobs run in forks that inherit it."""
    global _settings
    _settings = settings


def stop_check(reporter: JobReporter, max_seconds: int) -> Callable[[], ServiceError | None]:
    """Why the fit should end now, if it should: canceled by a client, or over its
    time budget (checked first: it costs no Redis call)."""
    deadline = time.monotonic() + max_seconds

    def should_stop() -> ServiceError | None:
        if time.monotonic() > deadline:
            return TrainingTimedOut(
                f"Training ran longer than its time limit ({max_seconds:,} s, "
                "fit.max_seconds) and was stopped. Use fewer epochs, a smaller model or "
                "a larger fit.max_seconds."
            )
        if reporter.cancel_requested():
            return JobCanceled("Canceled on request.")
        return None

    return should_stop


def train(spec: dict[str, Any]) -> dict[str, Any]:
    """Train a normalized spec, store its artifacts by job ID, and return its report.

    Any failure is written to the job as a problem a user can act on before RQ marks
    the job failed; the traceback goes to the worker's log only.
    """
    settings = _settings or Settings.from_env()
    job = get_current_job()
    reporter = JobReporter(job)
    should_stop = stop_check(reporter, spec["fit"].get("max_seconds") or settings.job_timeout_s)
    try:
        if (early := should_stop()) is not None:  # canceled while it waited
            raise early
        store = ArtifactStore(settings.artifact_root)
        uploaded = DatasetStore(store).for_data(spec["data"])  # None unless it names one
        result = train_model(
            spec, on_epoch=reporter.epoch, should_stop=should_stop, uploaded=uploaded
        )
        report = result.report()
        store.save(
            job.id,
            result.model,
            {
                "spec": spec,
                "history": result.history,
                "metrics": report,
                "summary": result.summary,
                **({"classes": result.classes} if result.classes else {}),
            },
        )
    except JobCanceled:
        # Canceled is an outcome the client asked for, not a failure: the job returns
        # normally and reads `canceled`; nothing was saved.
        log.info("job %s canceled", job.id)
        reporter.canceled()
        return {"canceled": True}
    except ServiceError as exc:
        reporter.failed(exc)
        raise
    except Exception as exc:
        log.exception("job %s failed", job.id)
        reporter.failed(
            TrainingFailed(
                f"Training failed with {type(exc).__name__}. The spec passed validation, so "
                "this may be a limit of the model or data; the worker's log has details."
            )
        )
        raise
    reporter.finished(report)
    return report
