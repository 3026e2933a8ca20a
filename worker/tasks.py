"""The job functions RQ runs (importable by dotted name, kept small)."""

from __future__ import annotations

import functools
import logging
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rq import get_current_job
from rq.job import Job

from service.config import Settings
from service.errors import (
    BatchPredictionFailed,
    ExportFailed,
    JobCanceled,
    ServiceError,
    StoreUnavailable,
    TrainingDiverged,
    TrainingFailed,
    TrainingTimedOut,
    TrialPruned,
)
from service.ml.artifacts import EXPORT_FILES, ONNX_FILE, ArtifactStore
from service.ml.diagnosis import diagnose
from service.ml.training import TrainingResult
from service.ml.training import train as train_model
from service.ml.uploads import DatasetStore
from service.store import durations
from service.store.aliases import AliasStore
from service.store.jobs import JobQueue, JobReporter
from service.store.sweeps import SweepStore
from service.sweeps.runner import SweepRunner, TrialRun, trial_outcome

if TYPE_CHECKING:
    from service.ml.checkpoints import Resume

log = logging.getLogger(__name__)
_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """Called once by the worker at start; jobs run in forks that inherit it."""
    global _settings
    _settings = settings


def stop_check(
    reporter: JobReporter, max_seconds: int, trial: TrialRun | None = None
) -> Callable[[], ServiceError | None]:
    """Why the fit should end now, if it should: over its time budget (checked first:
    it costs no Redis call), canceled by a client, or, for a sweep's trial, pruned or
    out of the sweep's time."""
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
        return trial.should_stop() if trial is not None else None

    return should_stop


Task = Callable[[dict[str, Any]], dict[str, Any]]


def ended_as(report: dict[str, Any]) -> str:
    """How a training job that returned ended: canceled and pruned jobs return too."""
    return next((k for k in ("canceled", "pruned") if report.get(k)), "finished")


def timed(task: Task) -> Task:
    """Count how long each training job ran, by how it ended, in the histogram the API
    exposes at /metrics (service.store.durations), and log it."""

    @functools.wraps(task)
    def run(spec: dict[str, Any]) -> dict[str, Any]:
        started, outcome = time.monotonic(), "failed"
        try:
            report = task(spec)
            outcome = ended_as(report)
            return report
        finally:
            seconds = time.monotonic() - started
            job = get_current_job()
            log.info("training job %s %s in %.2f s", job.id, outcome, seconds)
            try:
                durations.observe(job.connection, outcome, seconds)
            except StoreUnavailable as exc:  # a metric must not change the job's outcome
                log.warning("training duration of job %s not recorded: %s", job.id, exc)

    return run


@timed
def train(spec: dict[str, Any]) -> dict[str, Any]:
    """Train a normalized spec (checked and completed by the API: trusted as it is),
    store its artifacts by job ID, and return its report.

    Any failure is written to the job as a problem a user can act on before RQ marks
    the job failed; the traceback goes to the worker's log only.
    """
    settings = _settings or Settings.from_env()
    job = get_current_job()
    reporter = JobReporter(job)
    sweep = job.meta.get("sweep")
    trial = TrialRun(settings, SweepStore(job.connection), sweep) if sweep else None
    started, status = time.monotonic(), "failed"
    try:
        report = _train(spec, settings, job, reporter, trial)
        status = ended_as(report)
        return report
    finally:
        if sweep:
            trial_ended(settings, job, sweep, status, time.monotonic() - started)
        notify = spec.get("notify")
        if notify and status in notify["events"]:
            try:
                JobQueue(job.connection, settings).queue_delivery(job.id, status)
            except StoreUnavailable as exc:  # a webhook must not change the job's outcome
                log.warning("job %s: webhook not queued: %s", job.id, exc)


def _train(
    spec: dict[str, Any],
    settings: Settings,
    job: Job,
    reporter: JobReporter,
    trial: TrialRun | None,
) -> dict[str, Any]:
    store = ArtifactStore(settings.artifact_root)
    resume = resumption(store, job.id, reporter)
    # fit.max_seconds counts the fitting of every attempt.
    spent = resume.fit_seconds if resume else 0.0
    should_stop = stop_check(reporter, max(0, spec["fit"]["max_seconds"] - spent), trial)

    def on_epoch(epoch: int, logs: dict[str, float | None]) -> None:
        reporter.epoch(epoch, logs)
        if trial is not None:
            trial.epoch(epoch, logs)

    try:
        if (early := should_stop()) is not None:  # canceled while it waited
            raise early
        uploaded = DatasetStore(store).for_data(spec["data"])  # None unless it names one
        result = train_model(
            spec,
            on_epoch=on_epoch,
            should_stop=should_stop,
            uploaded=uploaded,
            resume=resume,
            write_checkpoint=lambda content: store.write_checkpoint(job.id, content),
            init_model=init_model(settings, spec) if resume is None else None,
        )
        if result.checkpoint_seconds:
            costs = result.checkpoint_seconds
            log.info(
                "job %s: %d checkpoints, %.1f ms each on average",
                job.id,
                len(costs),
                1000 * sum(costs) / len(costs),
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
            files=serving_files(job.id, result),
        )
    except JobCanceled:
        # Canceled is an outcome the client asked for, not a failure: the job returns
        # normally and reads `canceled`; nothing was saved.
        log.info("job %s canceled", job.id)
        reporter.canceled()
        return {"canceled": True}
    except TrialPruned as exc:
        # Pruned is a sweep's verdict, not a failure: the history stays, no model.
        log.info("job %s: %s", job.id, exc.detail)
        reporter.pruned()
        return {"pruned": True}
    except ServiceError as exc:
        # A diverged run's curves say how it went wrong; other failures cut training
        # short for reasons its history cannot tell.
        reporter.failed(
            exc, diagnose(reporter.history) if isinstance(exc, TrainingDiverged) else None
        )
        raise
    except Exception as exc:
        log.exception("job %s failed", job.id)
        reporter.failed(failure(exc))
        raise
    finally:
        # The job has ended (a worker that dies never gets here: the next attempt
        # resumes from the checkpoint).
        store.delete_checkpoint(job.id)
    reporter.finished(report, result.diagnosis)
    return report


def init_model(settings: Settings, spec: dict[str, Any]) -> Any:
    """The model a warm start begins from (the spec's `init_from`), or None."""
    if not spec.get("init_from"):
        return None
    import keras

    store = ArtifactStore(settings.artifact_root, settings.artifact_cache)
    return keras.models.load_model(store.local_model(spec["init_from"]["job_id"]), compile=False)


def resumption(store: ArtifactStore, job_id: str, reporter: JobReporter) -> Resume | None:
    """The checkpoint an earlier attempt of this job left, if any: this attempt goes
    on from it. One that cannot be read is ignored (the fit starts again)."""
    content = store.read_checkpoint(job_id)
    if content is None:
        return None
    from service.ml.checkpoints import loads

    try:
        resume = loads(content)
    except Exception:
        log.exception("job %s: unreadable checkpoint; starting again", job_id)
        return None
    log.info("job %s resumes after epoch %d", job_id, resume.epoch)
    reporter.resumed(resume.epoch)
    return resume


def trial_ended(
    settings: Settings, job: Job, sweep: dict[str, Any], status: str, seconds: float
) -> None:
    """Settle a sweep's trial and launch the next; a failure here is logged and never
    changes how the trial's own job ended (a reader of the sweep settles it later)."""
    meta = job.meta
    ended = trial_outcome(
        status, meta["history"], meta.get("result"), meta.get("error"), sweep["metric"], seconds
    )
    redis = job.connection
    runner = SweepRunner(SweepStore(redis), JobQueue(redis, settings), AliasStore(redis), settings)
    try:
        runner.trial_ended(sweep["id"], job.id, ended)
    except Exception:
        log.exception("sweep %s: trial %s not settled here", sweep["id"], sweep["trial"])


def serving_files(job_id: str, result: TrainingResult) -> dict[str, bytes]:
    """The model's ONNX form, which API processes serve, checked on held-out rows. A
    model that does not convert still finishes training: its job is not lost, and a
    request to serve it says why it cannot be (its conversion is tried again then)."""
    from service.ml.conversion import ConversionFailed, convert

    started = time.perf_counter()
    try:
        onnx_model = convert(result.model, result.check_rows)
    except ConversionFailed as exc:
        log.warning("job %s: no ONNX model: %s", job_id, exc)
        return {}
    log.info(
        "job %s: ONNX model of %d bytes in %.2f s",
        job_id,
        len(onnx_model),
        time.perf_counter() - started,
    )
    return {ONNX_FILE: onnx_model}


def failure(exc: BaseException) -> TrainingFailed:
    """What a client is told of an error the spec's checks could not foresee: Keras's
    (or TensorFlow's) own words, cleaned of file paths and tensor reprs."""
    from service.ml.builder import keras_message

    if isinstance(exc, MemoryError) or "OOM" in str(exc) or "ResourceExhausted" in str(exc):
        return TrainingFailed(
            "Training ran out of memory. Use a smaller model, fewer units or a smaller "
            "fit.batch_size."
        )
    return TrainingFailed(f"Training failed: {keras_message(exc)} ({type(exc).__name__})")


class DeliveryFailed(Exception):
    """A webhook delivery the receiver did not accept; RQ tries it again later."""


def deliver(job_id: str, event: str) -> dict[str, Any]:
    """POST an ended job to its spec's webhook, signed, and record the attempt on the
    job; raise (RQ retries with backoff) unless the receiver answered 2xx. A URL that
    is no longer allowed (its host resolves to a private address now, say) is not
    called, and not tried again."""
    import orjson
    import requests

    from service.notify import SIGNATURE_HEADER, TIMEOUT_S, allowed_hosts, refusal, signature
    from service.schemas.jobs import iso, job_document

    settings = _settings or Settings.from_env()
    current = get_current_job()
    jobs = JobQueue(current.connection, settings)
    record = jobs.get(job_id)
    if record is None or record.notify is None:
        return {"delivered": False}
    url = record.notify["url"]
    timestamp = int(time.time())
    attempt: dict[str, Any] = {"at": iso(datetime.now(UTC)), "event": event}
    why = refusal(url, allowed_hosts(settings.webhook_allowed_hosts))
    if why:
        attempt["error"] = why
        jobs.record_delivery(job_id, attempt)
        JobReporter(current).give_up()  # a retry would find the same
        raise DeliveryFailed(why)
    body = orjson.dumps({"event": event, "timestamp": timestamp, "job": job_document(record)})
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(settings.webhook_secret, body, timestamp),
    }
    try:
        answer = requests.post(
            url, data=body, headers=headers, timeout=TIMEOUT_S, allow_redirects=False
        )
        attempt["status"] = answer.status_code
    except requests.RequestException as exc:
        attempt["error"] = f"{type(exc).__name__}: the receiver did not answer."
    jobs.record_delivery(job_id, attempt)
    if not 200 <= attempt.get("status", 0) < 300:
        raise DeliveryFailed(f"{url}: {attempt.get('status') or attempt['error']}")
    return {"delivered": True, "status": attempt["status"]}


def batch_predict(request: dict[str, Any]) -> dict[str, Any]:
    """Predict every row of an uploaded dataset with a trained model's ONNX session (the
    API checked the request) and store the predictions as CSV, whole; report progress
    after each chunk, and stop there when canceled."""
    import numpy as np

    from service.ml.batch import ChunkFailed, write_csv
    from service.ml.predictor import Predictor

    settings = _settings or Settings.from_env()
    job = get_current_job()
    reporter = JobReporter(job)
    store = ArtifactStore(settings.artifact_root, settings.artifact_cache)
    started = time.monotonic()

    def on_chunk(done: int) -> None:
        job.meta["rows_done"] = done
        job.save_meta()
        if reporter.cancel_requested():
            raise JobCanceled("Canceled on request.")

    try:
        model_id = request["job_id"]
        onnx_model = store.read_bytes(model_id, ONNX_FILE)
        table = DatasetStore(store).load(request["dataset_id"])
        if onnx_model is None or table is None:
            gone = "model" if onnx_model is None else "dataset"
            raise BatchPredictionFailed(f"The {gone} was deleted before the batch started.")
        predictor = Predictor(onnx_model, store.read(model_id, "classes"))
        picked = [table.columns.index(name) for name in request["columns"]]
        x = np.ascontiguousarray(table.values[:, picked]).reshape(-1, *predictor.input_shape)
        with tempfile.TemporaryDirectory() as workdir:
            path = Path(workdir) / "predictions.csv"
            with path.open("wb") as out:
                rows = write_csv(predictor, x, request["return"], out, on_chunk)
            size = path.stat().st_size
            store.put_whole(store.batch_path(job.id), path)
    except JobCanceled:
        reporter.canceled()
        return {"canceled": True}
    except ChunkFailed as exc:
        log.exception("batch prediction %s failed", job.id)
        reporter.failed(
            BatchPredictionFailed(
                f"Predicting rows {exc.first} to {exc.last} failed: "
                f"{type(exc.cause).__name__}: {exc.cause}"
            )
        )
        raise
    except ServiceError as exc:
        reporter.failed(exc)
        raise
    except Exception as exc:
        log.exception("batch prediction %s failed", job.id)
        reporter.failed(
            BatchPredictionFailed(f"The batch prediction failed: {type(exc).__name__}.")
        )
        raise
    seconds = time.monotonic() - started
    result = {"rows": rows, "bytes": size, "seconds": round(seconds, 3)}
    job.meta["result"] = result
    job.save_meta()
    log.info("batch prediction %s: %d rows in %.2f s", job.id, rows, seconds)
    return result


def export(job_id: str, export_format: str) -> dict[str, Any]:
    """Build an export of a finished job's model and publish it among the job's
    artifacts (whole, or not at all); return what was built and how long it took.

    A failure is written to the build as a problem before RQ marks it failed; the
    traceback goes to the worker's log only.
    """
    from service.ml.export import build_export  # the converter: only builds need it

    settings = _settings or Settings.from_env()
    job = get_current_job()
    store = ArtifactStore(settings.artifact_root, settings.artifact_cache)
    name = EXPORT_FILES[export_format]
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            built = build_export(store.local_model(job_id), export_format, Path(workdir))
            size = built.stat().st_size
            store.add_file(job_id, name, built)
    except Exception as exc:
        log.exception("%s export of job %s failed", export_format, job_id)
        JobReporter(job).failed(
            ExportFailed(
                f"Building the {export_format} export failed with {type(exc).__name__}; the "
                "model may use something this format cannot express. The worker's log has "
                "details."
            )
        )
        raise
    seconds = round(time.monotonic() - started, 3)
    log.info("%s export of job %s: %d bytes in %.2f s", export_format, job_id, size, seconds)
    return {"name": name, "bytes": size, "seconds": seconds}
