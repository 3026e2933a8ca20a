"""What a model answered, reduced to what a rollout compares: each row's class (a
classifier) or its output values (a regression), and the counters that accumulate
them: the prediction distribution, agreement with the primary, and errors against the
outcomes clients feed back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from service.ml.classes import to_classes

CLASSES, VALUES = "classes", "values"


@dataclass(frozen=True)
class Outcome:
    """One answer: `kind` CLASSES with a label per row, or VALUES with a list of output
    values per row."""

    kind: str
    rows: list[Any]

    @classmethod
    def of(cls, outputs: np.ndarray, classes: dict[str, Any] | None) -> Outcome:
        if classes is not None:
            return cls(CLASSES, [label_key(label) for label in to_classes(outputs, classes)])
        values = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
        return cls(VALUES, values.tolist())

    def document(self) -> bytes:
        return orjson.dumps({"kind": self.kind, "rows": self.rows})

    @classmethod
    def from_document(cls, raw: bytes) -> Outcome:
        found = orjson.loads(raw)
        return cls(found["kind"], found["rows"])


def label_key(label: Any) -> str:
    """A class label as text, the same for a label the model gives and one a client
    sends: `3` and `"3"` are one class; a row of several binary units is its JSON."""
    if isinstance(label, str):
        return label
    if isinstance(label, int) and not isinstance(label, bool):
        return str(label)
    return orjson.dumps(label).decode()


def distribution(outcome: Outcome) -> dict[str, float]:
    """Counters of what was predicted: rows by class, or the values' count, sum and sum
    of squares (for their mean and spread)."""
    if outcome.kind == CLASSES:
        counts: dict[str, float] = {}
        for label in outcome.rows:
            counts[f"class:{label}"] = counts.get(f"class:{label}", 0) + 1
        return counts
    values = np.asarray(outcome.rows, dtype=np.float64)
    return {
        "values": int(values.size),
        "values_sum": float(values.sum()),
        "values_sumsq": float((values**2).sum()),
    }


def agreement(primary: Outcome, shadow: Outcome) -> dict[str, float]:
    """Counters of how far a shadow's answer is from the primary's: rows of the same
    class, or the summed absolute difference of the values."""
    if primary.kind != shadow.kind or len(primary.rows) != len(shadow.rows):
        return {"compared": len(primary.rows), "incomparable": 1}
    if primary.kind == CLASSES:
        agreed = sum(a == b for a, b in zip(primary.rows, shadow.rows, strict=True))
        return {"compared": len(primary.rows), "agreed": agreed}
    a, b = np.asarray(primary.rows), np.asarray(shadow.rows)
    if a.shape != b.shape:
        return {"compared": len(primary.rows), "incomparable": 1}
    return {"compared": len(primary.rows), "abs_difference_sum": float(np.abs(a - b).mean(1).sum())}


def feedback(outcome: Outcome, labels: list[Any]) -> dict[str, float]:
    """Counters of an answer against its true outcomes (one label per row): rows right,
    or the rows' absolute errors (mean over a row's outputs) and their squares."""
    if outcome.kind == CLASSES:
        right = sum(label_key(t) == p for t, p in zip(labels, outcome.rows, strict=True))
        return {"outcomes": len(labels), "correct": right}
    truth = np.asarray([t if isinstance(t, list) else [t] for t in labels], dtype=np.float64)
    errors = np.abs(np.asarray(outcome.rows, dtype=np.float64) - truth).mean(axis=1)
    return {
        "outcomes": len(labels),
        "error_sum": float(errors.sum()),
        "error_sumsq": float((errors**2).sum()),
    }


def check_labels(outcome: Outcome, labels: list[Any]) -> str | None:
    """Why `labels` cannot be the outcomes of this answer, or None."""
    if len(labels) != len(outcome.rows):
        return (
            f"Expected one label per predicted row ({len(outcome.rows)}). Received: {len(labels)}."
        )
    if outcome.kind == CLASSES:
        if any(not isinstance(t, str | int) or isinstance(t, bool) for t in labels):
            return "Expected class labels (text or integers), as the model predicts them."
        return None
    width = len(outcome.rows[0]) if outcome.rows else 0
    for label in labels:
        values = label if isinstance(label, list) else [label]
        if len(values) != width or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
            for v in values
        ):
            return (
                f"Expected each label to be {width} finite number(s), as the model's "
                f"outputs. Received: {orjson.dumps(label).decode()}."
            )
    return None
