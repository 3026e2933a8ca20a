"""Checks a spec against its data and Keras before any training is paid for.

The API runs these once, before queueing a job (so mistakes are a 422, not a failed
job), and for dry-run summaries. The worker trusts the spec it is given: it loads the
same data (`load_data(..., checked=False)`) without checking it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from service.errors import InvalidSpec
from service.ml.builder import build_model, shape_only
from service.ml.catalog import LOSSES, LossKind
from service.ml.checks import check_fit
from service.ml.datasets import Dataset, load_dataset
from service.ml.summary import summarize

if TYPE_CHECKING:
    from service.config import Settings
    from service.ml.uploads import Table


def load_data(spec: dict[str, Any], uploaded: Table | None = None, checked: bool = True) -> Dataset:
    """The spec's data, split by its seed; stratified for classification losses.
    `uploaded` is the table of its `data.dataset_id`, read by the caller from the store;
    `checked` False trusts inline rows that were checked before (the worker's case)."""
    kind = LOSSES[spec["compile"]["loss"]["type"]].kind
    stratify = kind is not LossKind.REGRESSION
    return load_dataset(spec["data"], spec["fit"]["seed"], stratify, uploaded, checked)


# Training holds each batch's activations for the backward pass, and as much again in
# their gradients: the factor MAX_ACTIVATION_BYTES is checked against.
TRAINING_ACTIVATIONS = 2


def model_summary(model_spec: dict[str, Any]) -> dict[str, Any]:
    """The summary of the model a spec describes, built shapes-only (no weights are
    allocated, so a spec of billions of parameters is counted without their memory)."""
    with shape_only():
        return summarize(build_model(model_spec))


def limit_errors(
    summary: dict[str, Any], spec: dict[str, Any], settings: Settings
) -> dict[str, list[str]]:
    """The limits a built model is over, that only building it tells: its parameters
    (MAX_PARAMS) and the memory of a training batch's activations (MAX_ACTIVATION_BYTES),
    keyed by the field to change."""
    errors: dict[str, list[str]] = {}
    if summary["total_params"] > settings.max_params:
        errors["model.layers"] = [
            f"The model has {summary['total_params']:,} parameters; this service accepts "
            f"at most {settings.max_params:,} (MAX_PARAMS)."
        ]
    batch = spec.get("fit", {}).get("batch_size", 1)
    needed = summary["activation_bytes"] * batch * TRAINING_ACTIVATIONS
    if needed > settings.max_activation_bytes:
        index, largest = max(
            enumerate(summary["layers"]), key=lambda item: item[1]["activation_bytes"]
        )
        errors[f"model.layers[{index}]"] = [
            f"Training a batch of {batch} needs about {_bytes(needed)} for its activations "
            f"({_bytes(summary['activation_bytes'])} a row; {largest['type']} "
            f"{largest['name']!r} alone {_bytes(largest['activation_bytes'])} a row); this "
            f"service accepts at most {_bytes(settings.max_activation_bytes)} "
            "(MAX_ACTIVATION_BYTES). Use fewer filters or units, a smaller input or a "
            "smaller fit.batch_size."
        ]
    return errors


def _bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def check_spec(
    spec: dict[str, Any], settings: Settings, uploaded: Table | None = None
) -> dict[str, Any]:
    """Everything that can be known about a job before training: returns the model's
    summary, or raises InvalidSpec naming each field that does not fit."""
    if uploaded is not None and len(uploaded) > settings.max_data_rows:
        raise InvalidSpec(
            {
                "data.dataset_id": [
                    f"{len(uploaded):,} rows of data asked for; this service accepts at "
                    f"most {settings.max_data_rows:,} (MAX_DATA_ROWS)."
                ]
            }
        )
    summary = model_summary(spec["model"])
    errors = limit_errors(summary, spec, settings)
    if errors:
        raise InvalidSpec(errors)
    check_fit(spec, load_data(spec, uploaded), tuple(summary["output_shape"][1:]))
    return summary
