"""The one error shape: RFC 9457 problem details, described from the error classes."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from service import errors
from service.store.jobs import STATUSES


def problem_classes(http: bool = True) -> list[type[errors.ServiceError]]:
    """Every error class a client may meet: as an HTTP answer (`http`), or else as a
    job's or an export's `error`; by status, then type."""
    found: dict[str, type[errors.ServiceError]] = {}
    pending = [errors.ServiceError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        about_jobs = issubclass(cls, errors.TrainingFailed | errors.ExportFailed)
        if cls.when is not None and about_jobs != http:
            found.setdefault(cls.slug, cls)
    return sorted(found.values(), key=lambda c: (c.status, c.slug))


def _table() -> str:
    rows = [
        f"| `{errors.problem_type(c.slug)}` | {c.status} | {c.when} |" for c in problem_classes()
    ]
    jobs = ", ".join(
        f"`{errors.problem_type(c.slug)}` ({c.when})" for c in problem_classes(http=False)
    )
    return "\n".join(
        [
            "An RFC 9457 problem, sent as `application/problem+json` for every error. "
            "`type` is a relative URI `/problems/<slug>`:",
            "",
            "| type | status | when |",
            "|------|--------|------|",
            *rows,
            "",
            "A failed job reports why in its `error` (a problem without `status`), and a "
            f"failed export build in the export's `error`, with one of these types: {jobs}.",
            "",
            "For 422s, `errors` maps each failing field's JSON path (`model.layers[0].units`, "
            "`instances[3]`, `inputs[0].data[7]`, `limit`, `Idempotency-Key`; `line 3` for a "
            "line of an uploaded CSV; `$` for the body as a whole) to its messages.",
        ]
    )


class FieldErrors(fields.Dict):
    """Messages by the JSON path of the field they are about."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {
            "description": (
                "Messages by the JSON path of the field they are about, e.g. "
                "`model.layers[0].units`, `data.x[3]`, `instances[0]`; `$` stands for the "
                "body as a whole."
            ),
            **kwargs.get("metadata", {}),
        }
        super().__init__(keys=fields.String(), values=fields.List(fields.String()), **kwargs)


class ProblemSchema(Schema):
    class Meta:
        description = _table()

    type = fields.String(
        required=True,
        metadata={
            "format": "uri-reference",
            "description": "The problem type, `/problems/<slug>`.",
            "enum": [errors.problem_type(c.slug) for c in problem_classes()],
        },
    )
    title = fields.String(
        required=True,
        metadata={"description": "A short summary of the problem type (the same every time)."},
    )
    status = fields.Integer(
        required=True,
        metadata={"description": "The HTTP status code.", "minimum": 400, "maximum": 599},
    )
    detail = fields.String(
        required=True,
        metadata={"description": "What went wrong this time, in words a client can act on."},
    )
    instance = fields.String(
        metadata={
            "format": "uri-reference",
            "description": "The request path the problem occurred on.",
        }
    )
    errors = FieldErrors()
    job_status = fields.String(
        metadata={
            "enum": list(STATUSES),
            "description": (
                "Only for 409s about a job's status (`/problems/job-not-finished`, "
                "`/problems/conflict`): the job's current status."
            ),
        }
    )


class ProtocolProblemSchema(ProblemSchema):
    class Meta:
        description = (
            "A `Problem` as the TF Serving and KServe V2 routes send it: with `error`, equal "
            "to `detail`, where those protocols' clients (TF Serving's, `tritonclient`) read "
            "an error's message."
        )

    error = fields.String(required=True, metadata={"description": "The same text as `detail`."})


class JobErrorSchema(Schema):
    class Meta:
        description = (
            "Why a job (or an export's build) failed: a problem without `status` (no HTTP "
            "exchange failed)."
        )

    type = fields.String(
        required=True,
        metadata={
            "format": "uri-reference",
            "enum": [errors.problem_type(c.slug) for c in problem_classes(http=False)],
        },
    )
    title = fields.String(required=True)
    detail = fields.String(required=True)
    errors = FieldErrors()
