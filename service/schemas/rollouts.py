"""Rollouts: an alias's report, its payload logs, and outcomes fed back."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.schemas.fields import StrictSchema

MAX_FEEDBACK = 1_000
_UUID = {"format": "uuid"}


class LatencySchema(Schema):
    p50 = fields.Float(required=True, allow_none=True)
    p99 = fields.Float(required=True, allow_none=True)


class PredictionsSchema(Schema):
    class Meta:
        description = (
            "What the model predicted: the share of rows of each class (classifiers), or "
            "the count, mean and spread of its output values (regressions)."
        )

    rows = fields.Integer()
    classes = fields.Dict(keys=fields.String(), values=fields.Float())
    outputs = fields.Integer(metadata={"description": "Output values counted (regressions)."})
    mean = fields.Float()
    std = fields.Float()


class AgreementSchema(Schema):
    class Meta:
        description = (
            "How the shadow's answers compare with the primary's on the same requests: the "
            "share of rows of the same class, or the mean absolute difference of outputs."
        )

    rows = fields.Integer(required=True)
    rate = fields.Float()
    mean_abs_difference = fields.Float()


class OutcomesSchema(Schema):
    class Meta:
        description = (
            "The model on the outcomes fed back for its answers: accuracy (classifiers) or "
            "mean absolute error (regressions), each with a 95 % confidence interval "
            "(Wilson for accuracy, t for the error)."
        )

    count = fields.Integer(required=True)
    accuracy = fields.Float()
    mae = fields.Float()
    ci95 = fields.List(fields.Float(), allow_none=True)


class ReportModelSchema(Schema):
    job_id = fields.String(required=True, metadata=_UUID)
    role = fields.String(required=True, metadata={"enum": ["target", "shadow"]})
    current = fields.Boolean(
        required=True,
        metadata={"description": "Part of the alias's setting now (else: one it had before)."},
    )
    primary = fields.Boolean()
    weight = fields.Integer()
    share = fields.Float(metadata={"description": "Its weight over the sum of weights."})
    percent = fields.Float(metadata={"description": "The shadow's share of requests mirrored."})
    dropped = fields.Integer(
        metadata={"description": "Mirrored requests dropped because a shadow queue was full."}
    )
    requests = fields.Integer(required=True)
    errors = fields.Integer(required=True)
    error_rate = fields.Float(required=True, allow_none=True)
    statuses = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    latency_ms = fields.Nested(
        LatencySchema,
        required=True,
        metadata={"description": "Server time of its answers (a shadow's: its model run)."},
    )
    predictions = fields.Nested(PredictionsSchema, required=True, allow_none=True)
    agreement = fields.Nested(AgreementSchema, required=True, allow_none=True)
    outcomes = fields.Nested(OutcomesSchema, required=True, allow_none=True)


class ComparisonSchema(Schema):
    class Meta:
        description = (
            "The best current candidate (a target other than the primary, or the shadow) "
            "against the primary on the outcomes fed back: a two-proportion z-test of "
            "accuracy or a Welch t-test of absolute errors, two-sided at 5 %. "
            "`more_outcomes_needed` is how many more outcomes (both models together) a test "
            "with 80 % power needs at the difference seen so far."
        )

    primary = fields.String(required=True, metadata=_UUID)
    candidate = fields.String(required=True, metadata=_UUID)
    candidate_role = fields.String(required=True)
    metric = fields.String(required=True, metadata={"enum": ["accuracy", "mae"]})
    test = fields.String(required=True)
    p_value = fields.Float(required=True, allow_none=True)
    difference = fields.Float(
        required=True, metadata={"description": "How much better the candidate is (< 0: worse)."}
    )
    verdict = fields.String(required=True, metadata={"enum": ["better", "worse", "undecided"]})
    more_outcomes_needed = fields.Integer(required=True, allow_none=True)
    summary = fields.String(required=True)


class ReportSchema(Schema):
    class Meta:
        description = "What each model of an alias did with its traffic, and the verdict."

    alias = fields.String(required=True)
    primary = fields.String(required=True, metadata=_UUID)
    models = fields.List(fields.Nested(ReportModelSchema), required=True)
    comparison = fields.Nested(ComparisonSchema, required=True, allow_none=True)


class PayloadFileSchema(Schema):
    name = fields.String(required=True)
    size = fields.Integer(required=True)
    url = fields.String(required=True, metadata={"format": "uri-reference"})


class PayloadListSchema(Schema):
    alias = fields.String(required=True)
    files = fields.List(fields.Nested(PayloadFileSchema), required=True)


class OutcomeSchema(StrictSchema):
    request_id = fields.String(
        required=True,
        validate=validate.Length(1, 200),
        metadata={"description": "The X-Request-ID of the prediction (ours, or the client's)."},
    )
    label = fields.Raw(
        metadata={
            "description": (
                "The true outcome of a one-row prediction: a class label as the model "
                "predicts it, or the output value(s) of a regression."
            )
        }
    )
    labels = fields.List(
        fields.Raw(),
        validate=validate.Length(1, 1_000),
        metadata={"description": "The true outcome of each row of a prediction, in order."},
    )

    @validates_schema
    def _label_or_labels(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("label" in data) == ("labels" in data):
            raise ValidationError("Expected either `label` or `labels`.", "label")


class FeedbackRequestSchema(OutcomeSchema):
    class Meta(StrictSchema.Meta):
        description = (
            "The true outcome of an earlier prediction through an alias, by its request ID; "
            "or `feedback`, a list of such outcomes."
        )

    request_id = fields.String(validate=validate.Length(1, 200))
    feedback = fields.List(fields.Nested(OutcomeSchema), validate=validate.Length(1, MAX_FEEDBACK))

    @validates_schema
    def _label_or_labels(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "feedback" in data:
            if data.keys() - {"feedback"}:
                raise ValidationError("Expected `feedback` alone, or one outcome.", "feedback")
            return
        if "request_id" not in data:
            raise ValidationError("Expected `request_id` (or `feedback`).", "request_id")
        super()._label_or_labels(data, **kwargs)


class FeedbackResultSchema(Schema):
    request_id = fields.String(required=True)
    status = fields.String(
        required=True, metadata={"enum": ["recorded", "unknown", "duplicate", "invalid"]}
    )
    detail = fields.String()
    alias = fields.String()
    job_id = fields.String(metadata=_UUID)


class FeedbackResponseSchema(Schema):
    class Meta:
        description = (
            "What became of each outcome: `recorded`; `unknown` (no such prediction is "
            "kept); `duplicate` (its outcome was already recorded); `invalid` (labels that "
            "do not fit its answer)."
        )

    recorded = fields.Integer(required=True)
    results = fields.List(fields.Nested(FeedbackResultSchema), required=True)
