"""The one error hierarchy of the service.

Each class knows its HTTP status and its problem type, so code raises the error where it
detects it, in words a client can act on, and `service.problems` turns it into RFC 9457
problem+json in one place. The worker uses the same classes to describe failed jobs.
Nothing here depends on Flask.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error a client may see."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal server error"

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
    """The problem `type` URI for a slug (documented in openapi.yaml)."""
    return f"/problems/{slug}"


class MalformedRequest(ServiceError):
    status, slug, title = 400, "malformed-request", "Malformed request"


class Unauthorized(ServiceError):
    """No API key, or one this service does not know (RFC 6750's invalid_token)."""

    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str, error: str | None = None) -> None:
        challenge = 'Bearer realm="keras-service"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ServiceError):
    """A known API key whose scope does not cover this request."""

    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(ServiceError):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(ServiceError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class JobNotFinished(ServiceError):
    status, slug, title = 409, "job-not-finished", "Job not finished"


class Conflict(ServiceError):
    """The request does not fit the resource's current state (a running job cannot be
    deleted; an Idempotency-Key was used with another body)."""

    status, slug, title = 409, "conflict", "Conflict"


class IdempotencyConflict(Conflict):
    slug, title = "idempotency-key-reused", "Idempotency-Key reused with another body"


class PayloadTooLarge(ServiceError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(ServiceError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class InvalidRequest(ServiceError):
    """A request body that fails validation; `errors` is keyed by JSON path."""

    status, slug, title = 422, "invalid-request", "Invalid request"

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        super().__init__(detail or summarize_errors(errors), errors=errors)


class InvalidSpec(InvalidRequest):
    """A training spec that cannot be trained as given."""

    slug, title = "invalid-spec", "Invalid training spec"


class InvalidInput(InvalidRequest):
    """Prediction inputs that do not fit the model."""

    slug, title = "invalid-input", "Invalid prediction input"


class ServiceUnavailable(ServiceError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"

    def __init__(self, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class ModelUnavailable(ServiceUnavailable):
    slug, title = "model-unavailable", "Model unavailable"


class TrainingFailed(ServiceError):
    """Why a job failed, as the job resource reports it (never a traceback)."""

    status, slug, title = 422, "training-failed", "Training failed"


class TrainingDiverged(TrainingFailed):
    slug, title = "training-diverged", "Training diverged"


class WorkerLost(TrainingFailed):
    status, slug, title = 500, "worker-lost", "Worker stopped during training"


class TrainingTimedOut(TrainingFailed):
    status, slug, title = 504, "training-timed-out", "Training timed out"


class ExportFailed(ServiceError):
    """Why building an export of a trained model failed, as the export resource
    reports it (never a traceback)."""

    status, slug, title = 500, "export-failed", "Export failed"


class JobCanceled(ServiceError):
    """Raised inside a fit that a client canceled; the job ends `canceled`, not failed."""

    status, slug, title = 409, "job-canceled", "Job canceled"


def summarize_errors(errors: dict[str, list[str]]) -> str:
    """One line naming every failing field, for the problem's `detail`."""
    parts = [f"{path}: {' '.join(messages)}" for path, messages in errors.items()]
    return "; ".join(parts)
