"""The one error hierarchy of the service.

Each class knows its HTTP status and its problem type, so code raises the error where it
detects it, in words a client can act on, and `service.problems` turns it into RFC 9457
problem+json in one place. The worker uses the same classes to describe failed jobs.
Nothing here depends on Flask.
"""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"  # RFC 9457's media type, for every error


class ServiceError(Exception):
    """Base of every error a client may see."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal server error"
    # When a client meets this problem, in its words (the API description's table of
    # problem types is made from these); None for errors no client ever sees.
    when: str | None = "an unexpected failure (details are logged, never sent)"

    def __init__(
        self,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    @property
    def type(self) -> str:
        return problem_type(self.slug)

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 problem object for this error."""
        problem: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            problem["instance"] = instance
        if self.errors:
            problem["errors"] = self.errors
        problem.update(self.extra)
        return problem


def problem_type(slug: str) -> str:
    """The problem `type` URI for a slug (documented in the API description)."""
    return f"/problems/{slug}"


class MalformedRequest(ServiceError):
    status, slug, title = 400, "malformed-request", "Malformed request"
    when = (
        "the body is not JSON (or nests deeper than 64 levels, or repeats a key in an "
        "object), or is not a JSON object"
    )


class UnsupportedSignatureMethod(ServiceError):
    status, slug, title = 400, "unsupported-signature-method", "Unsupported signature method"
    when = (
        "a TF Serving `:classify` or `:regress` call: each model has one signature, "
        "`serving_default`, a predict signature (as TF Serving answers it)"
    )


class Unauthorized(ServiceError):
    """No API key, or one this service does not know (RFC 6750's invalid_token)."""

    status, slug, title = 401, "unauthorized", "Unauthorized"
    when = (
        "API keys are configured and the request has no key, or an unknown one "
        "(`WWW-Authenticate` header)"
    )

    def __init__(self, detail: str, error: str | None = None) -> None:
        challenge = 'Bearer realm="keras-service"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ServiceError):
    """A known API key whose scope does not cover this request."""

    status, slug, title = 403, "forbidden", "Forbidden"
    when = (
        "the API key's scope does not cover the operation (a `read` key on one that needs `full`)"
    )


class NotFound(ServiceError):
    status, slug, title = 404, "not-found", "Not found"
    when = (
        "no such job, alias, uploaded dataset, artifact or export, a path parameter not "
        "shaped as its kind (a job ID that is not a UUID), or no such path"
    )


class MethodNotAllowed(ServiceError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"
    when = "the path does not take this method (`Allow` lists those it takes)"


class JobNotFinished(ServiceError):
    status, slug, title = 409, "job-not-finished", "Job not finished"
    when = "the job has no model yet; `job_status` says its status"


class Conflict(ServiceError):
    """The request does not fit the resource's current state (a running job cannot be
    deleted; an Idempotency-Key was used with another body)."""

    status, slug, title = 409, "conflict", "Conflict"
    when = (
        "the resource's state does not allow it: canceling an ended job, deleting a "
        "queued or started one (`job_status` says its status), deleting one an alias "
        "points at"
    )


class IdempotencyConflict(Conflict):
    slug, title = "idempotency-key-reused", "Idempotency-Key reused with another body"
    when = "the `Idempotency-Key` was first used with another request body"


class RequestTimeout(ServiceError):
    status, slug, title = 408, "request-timeout", "Request timeout"
    when = (
        "the request's headers or body paused too long between reads (answered by the "
        "nginx front `make run` and the compose file put before the API)"
    )


class UriTooLong(ServiceError):
    status, slug, title = 414, "uri-too-long", "URI too long"
    when = "the request line is longer than the server reads (answered by gunicorn)"


class HeadersTooLarge(ServiceError):
    status, slug, title = 431, "headers-too-large", "Request header fields too large"
    when = "too many request headers, or one too long (answered by gunicorn)"


class PayloadTooLarge(ServiceError):
    status, slug, title = 413, "payload-too-large", "Payload too large"
    when = "the body is larger than MAX_BODY_BYTES"


class UnsupportedMediaType(ServiceError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"
    when = (
        "the body is not `application/json` (on `POST /v1/datasets`, neither `text/csv` "
        "nor `application/json`)"
    )


class InvalidRequest(ServiceError):
    """A request body that fails validation; `errors` is keyed by JSON path."""

    status, slug, title = 422, "invalid-request", "Invalid request"
    when = (
        "a query parameter, a header, a path parameter, an alias's, export's or "
        "dataset's body is invalid; `errors` names each field"
    )

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        super().__init__(detail or summarize_errors(errors), errors=errors)


class InvalidSpec(InvalidRequest):
    """A training spec that cannot be trained as given."""

    slug, title = "invalid-spec", "Invalid training spec"
    when = (
        "the training spec is invalid, does not fit its data, or is over a limit "
        "(MAX_LAYERS, MAX_UNITS, MAX_PARAMS, MAX_EPOCHS, MAX_DATA_ROWS, JOB_TIMEOUT)"
    )


class InvalidSweep(InvalidRequest):
    """A sweep that cannot run as given: its spec, its search space or its settings."""

    slug, title = "invalid-sweep", "Invalid sweep"
    when = (
        "a sweep is invalid: its spec (as for a job), a searched path that the spec does "
        "not have, a distribution that does not fit its field, a corner of the space over "
        "a limit, or over MAX_TRIALS"
    )


class InvalidInput(InvalidRequest):
    """Prediction inputs that do not fit the model."""

    slug, title = "invalid-input", "Invalid prediction input"
    when = "the prediction input does not fit the model, or is over MAX_PREDICT_ROWS"


class ServiceUnavailable(ServiceError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"
    when = "Redis (the job store) does not answer (`Retry-After` header)"

    def __init__(self, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class StoreUnavailable(ServiceUnavailable):
    """Redis (the job store) did not answer, or refused the command."""


class ModelUnavailable(ServiceUnavailable):
    slug, title = "model-unavailable", "Model unavailable"
    when = (
        "a finished job's model is missing from the artifact store or cannot be loaded "
        "(`Retry-After` header)"
    )


class TrainingFailed(ServiceError):
    """Why a job failed, as the job resource reports it (never a traceback)."""

    status, slug, title = 422, "training-failed", "Training failed"
    when = "a job: training raised an error (its detail carries Keras's message)"


class TrainingDiverged(TrainingFailed):
    slug, title = "training-diverged", "Training diverged"
    when = "a job: the loss became NaN or infinite"


class WorkerLost(TrainingFailed):
    status, slug, title = 500, "worker-lost", "Worker stopped during training"
    when = "a job: its worker was killed or ran out of memory"


class TrainingTimedOut(TrainingFailed):
    status, slug, title = 504, "training-timed-out", "Training timed out"
    when = "a job: training ran longer than its `fit.max_seconds`"


class BatchPredictionFailed(ServiceError):
    """Why a batch prediction failed, as its resource reports it."""

    status, slug, title = 500, "batch-prediction-failed", "Batch prediction failed"
    when = "a batch prediction: a chunk of rows could not be predicted (the rows are named)"


class ExportFailed(ServiceError):
    """Why building an export of a trained model failed, as the export resource
    reports it (never a traceback)."""

    status, slug, title = 500, "export-failed", "Export failed"
    when = "an export: its build failed"


class JobCanceled(ServiceError):
    """Raised inside a fit that a client canceled; the job ends `canceled`, not failed."""

    status, slug, title = 409, "job-canceled", "Job canceled"
    when = None


class TrialPruned(ServiceError):
    """Raised inside a sweep's trial that its pruner stopped; the job ends `pruned`."""

    status, slug, title = 409, "trial-pruned", "Trial pruned"
    when = None


def summarize_errors(errors: dict[str, list[str]]) -> str:
    """One line naming every failing field, for the problem's `detail`."""
    parts = [f"{path}: {' '.join(messages)}" for path, messages in errors.items()]
    return "; ".join(parts)
