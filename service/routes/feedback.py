"""/v1/feedback: the true outcomes of earlier predictions through aliases."""

from __future__ import annotations

from typing import Any

from service.api import Blueprint
from service.auth import READ, requires
from service.context import services
from service.errors import Conflict, InvalidInput, NotFound
from service.rollouts import feedback
from service.schemas.rollouts import FeedbackRequestSchema, FeedbackResponseSchema

bp = Blueprint(
    "feedback",
    __name__,
    url_prefix="/v1/feedback",
    description=(
        "The true outcomes of predictions made through aliases, by request ID: they give "
        "each model's accuracy (or error) and the test of a candidate in the alias's report."
    ),
)
# Each outcome's status in a list of them, by the problem it would have been alone.
_STATUS = {NotFound: "unknown", Conflict: "duplicate", InvalidInput: "invalid"}


@bp.post("")
@bp.arguments(FeedbackRequestSchema)
@bp.response(200, FeedbackResponseSchema, description="What became of each outcome.")
@bp.problems(409, 503)
@requires(READ)
def post_feedback(body: dict[str, Any]) -> dict[str, Any]:
    """Feed back outcomes

    `request_id` is the `X-Request-ID` of a prediction through an alias (the one the
    service answered with, or the client's own); `label` its true outcome (a one-row
    prediction) or `labels` one per row: class labels as the model predicts them, or
    the output value(s) of a regression. The outcome scores the target that answered,
    and the shadow when it saw the request. Predictions are kept FEEDBACK_TTL seconds
    (default an hour), from about a second after their answer. One outcome: 404 for a
    prediction not kept, 409 when its outcome is recorded already, 422 for labels that
    do not fit. A list (`feedback`, up to 1,000): 200, with each outcome's status.
    """
    ctx = services()
    if "feedback" not in body:
        return {"recorded": 1, "results": [_record(ctx, body, "")]}
    results = []
    for index, item in enumerate(body["feedback"]):
        try:
            results.append(_record(ctx, item, f"feedback[{index}]."))
        except (NotFound, Conflict, InvalidInput) as exc:
            status = next(s for kind, s in _STATUS.items() if isinstance(exc, kind))
            detail = exc.detail if not isinstance(exc, InvalidInput) else _first(exc.errors)
            results.append({"request_id": item["request_id"], "status": status, "detail": detail})
    return {"recorded": sum(r["status"] == "recorded" for r in results), "results": results}


def _record(ctx: Any, item: dict[str, Any], path: str) -> dict[str, Any]:
    one = "label" in item
    labels = [item["label"]] if one else item["labels"]
    answered = feedback.record(
        ctx.rollouts,
        ctx.traffic.payloads,
        item["request_id"],
        labels,
        f"{path}{'label' if one else 'labels'}",
    )
    return {"request_id": item["request_id"], "status": "recorded", **answered}


def _first(errors: dict[str, list[str]]) -> str:
    return next(f"{path}: {messages[0]}" for path, messages in errors.items())
