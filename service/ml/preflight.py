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


def model_summary(model_spec: dict[str, Any], max_params: int) -> dict[str, Any]:
    """The summary of the model a spec describes, built shapes-only (no weights are
    allocated, so an oversized spec is refused without costing its memory)."""
    with shape_only():
        summary = summarize(build_model(model_spec))
    if summary["total_params"] > max_params:
        raise InvalidSpec(
            {
                "model.layers": [
                    f"The model has {summary['total_params']:,} parameters; this service "
                    f"accepts at most {max_params:,} (MAX_PARAMS)."
                ]
            }
        )
    return summary


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
    summary = model_summary(spec["model"], settings.max_params)
    check_fit(spec, load_data(spec, uploaded), tuple(summary["output_shape"][1:]))
    return summary
