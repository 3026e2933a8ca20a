"""The service's configurable limits on what one training spec may ask for.

Pure checks over a loaded spec, run before anything is built or queued, so an oversized
request costs a few comparisons. Each refusal names the setting and its value, so the
client knows what to change and the operator what to raise. The parameter count, which
needs Keras to compute, is checked in service.ml.preflight against MAX_PARAMS.
"""

from __future__ import annotations

from typing import Any

from service.config import Settings
from service.errors import InvalidSpec

# Layer arguments that size a layer's weights: the ones MAX_UNITS bounds.
SIZE_ARGS = ("units", "filters", "input_dim", "output_dim")


def check_limits(spec: dict[str, Any], settings: Settings, uploaded_rows: int = 0) -> None:
    """Raise InvalidSpec naming every limit the training spec exceeds; `uploaded_rows`
    counts the uploaded dataset the spec names, if any (the caller reads the store)."""
    errors = _model_errors(spec["model"], settings)
    fit = spec["fit"]
    if fit["epochs"] > settings.max_epochs:
        errors["fit.epochs"] = [_over(fit["epochs"], "epochs", settings.max_epochs, "MAX_EPOCHS")]
    seconds = fit.get("max_seconds")
    if seconds is not None and seconds > settings.job_timeout_s:
        errors["fit.max_seconds"] = [
            _over(seconds, "seconds", settings.job_timeout_s, "JOB_TIMEOUT")
        ]
    rows = data_rows(spec["data"], uploaded_rows)
    if rows > settings.max_data_rows:
        errors["data"] = [_over(rows, "rows of data", settings.max_data_rows, "MAX_DATA_ROWS")]
    if errors:
        raise InvalidSpec(errors)


def with_server_defaults(spec: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The spec with what it left to the server filled in (its fit's time budget)."""
    fit = {**spec["fit"], "max_seconds": spec["fit"].get("max_seconds") or settings.job_timeout_s}
    return {**spec, "fit": fit}


def check_model_limits(model_spec: dict[str, Any], settings: Settings) -> None:
    """Raise InvalidSpec naming every limit the model alone exceeds (for dry runs)."""
    errors = _model_errors(model_spec, settings)
    if errors:
        raise InvalidSpec(errors)


def _model_errors(model_spec: dict[str, Any], settings: Settings) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    layers = model_spec["layers"]
    if len(layers) > settings.max_layers:
        errors["model.layers"] = [_over(len(layers), "layers", settings.max_layers, "MAX_LAYERS")]
    for i, layer in enumerate(layers):
        for arg in SIZE_ARGS:
            if layer.get(arg, 0) > settings.max_units:
                errors[f"model.layers[{i}].{arg}"] = [
                    _over(layer[arg], arg, settings.max_units, "MAX_UNITS")
                ]
    return errors


def data_rows(data: dict[str, Any], uploaded_rows: int = 0) -> int:
    """Rows the job trains and evaluates on: inline ones, those of an uploaded dataset,
    or those a synthetic dataset is asked to generate (the fixed built-in datasets are
    small and not counted)."""
    if "x" in data:
        return sum(len(part["x"]) for part in (data, *_extra_splits(data)))
    if "dataset_id" in data:
        return uploaded_rows
    return int(data.get("n_samples", 0))


def _extra_splits(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [data[key] for key in ("validation", "test") if key in data]


def _over(value: int, what: str, limit: int, setting: str) -> str:
    return f"{value:,} {what} asked for; this service accepts at most {limit:,} ({setting})."
