"""The job functions RQ runs (importable by dotted name, kept small)."""

from __future__ import annotations

import logging
from typing import Any

from rq import get_current_job

from service.config import Settings
from service.errors import ServiceError, TrainingFailed
from service.jobs import JobReporter
from service.ml.artifacts import ArtifactStore
from service.ml.training import train as train_model

log = logging.getLogger(__name__)
_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """Called once by the worker at start; jobs run in forks that inherit it."""
    global _settings
    _settings = settings


def train(spec: dict[str, Any]) -> dict[str, Any]:
    """Train a normalized spec, store its artifacts by job ID, and return its report.

    Any failure is written to the job as a problem a user can act on before RQ marks
    the job failed; the traceback goes to the worker's log only.
    """
    settings = _settings or Settings.from_env()
    job = get_current_job()
    reporter = JobReporter(job)
    try:
        result = train_model(spec, on_epoch=reporter.epoch)
        report = result.report()
        ArtifactStore(settings.artifact_root).save(
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
