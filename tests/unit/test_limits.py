"""Each configurable limit refuses a spec that exceeds it with a 422 naming the setting
and its value, when the spec is loaded (before anything is built or queued: the app has
no Redis to queue on), and the API description states the limits in force."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from service.errors import InvalidSpec
from service.ml.preflight import check_spec
from service.schemas.spec import load_spec
from tests.helpers import example, offline_settings

SMALL = Settings(max_layers=3, max_units=600, max_epochs=50, max_data_rows=500)


def digits(**fit: Any) -> dict[str, Any]:
    spec = example("digits")
    spec["fit"].update(fit)
    return spec


def refusal(raw: dict[str, Any], settings: Settings = SMALL) -> dict[str, list[str]]:
    with pytest.raises(InvalidSpec) as caught:
        load_spec(raw, settings)
    return caught.value.errors


def test_recipes_fit_the_default_limits() -> None:
    for name in ("digits", "digits_binary", "sum_of_two"):
        check_spec(load_spec(example(name)), Settings())


def test_too_many_layers_names_max_layers() -> None:
    raw = digits()
    raw["model"]["layers"][1:1] = [{"type": "Dense", "units": 8}] * 3
    assert refusal(raw) == {
        "model.layers": ["5 layers asked for; this service accepts at most 3 (MAX_LAYERS)."]
    }


def test_too_many_units_names_the_layer_and_max_units() -> None:
    raw = digits()
    raw["model"]["layers"][0]["units"] = 601
    assert refusal(raw) == {
        "model.layers[0].units": [
            "601 units asked for; this service accepts at most 600 (MAX_UNITS)."
        ]
    }


def test_embedding_sizes_count_as_units() -> None:
    raw = {
        "model": {
            "input_shape": [4],
            "layers": [
                {"type": "Embedding", "input_dim": 10_000, "output_dim": 8},
                {"type": "Flatten"},
                {"type": "Dense", "units": 1, "activation": "sigmoid"},
            ],
        },
        "compile": {"loss": "binary_crossentropy"},
        "data": {"x": [[1, 2, 3, 4]] * 10, "y": [0, 1] * 5},
    }
    assert list(refusal(raw)) == ["model.layers[0].input_dim"]


def test_too_many_epochs_names_max_epochs() -> None:
    assert refusal(digits(epochs=51)) == {
        "fit.epochs": ["51 epochs asked for; this service accepts at most 50 (MAX_EPOCHS)."]
    }


def test_inline_rows_of_every_split_count() -> None:
    raw = {
        "model": {"input_shape": [2], "layers": [{"type": "Dense", "units": 1}]},
        "compile": {"loss": "mse"},
        "data": {
            "x": [[1.0, 2.0]] * 300,
            "y": [3.0] * 300,
            "validation": {"x": [[1.0, 2.0]] * 100, "y": [3.0] * 100},
            "test": {"x": [[1.0, 2.0]] * 101, "y": [3.0] * 101},
        },
    }
    load_spec(raw, Settings(max_data_rows=501))
    assert refusal(raw) == {
        "data": ["501 rows of data asked for; this service accepts at most 500 (MAX_DATA_ROWS)."]
    }


def test_generated_rows_count() -> None:
    raw = example("sum_of_two")
    raw["data"]["n_samples"] = 501
    assert refusal(raw) == {
        "data.n_samples": [
            "501 rows of data asked for; this service accepts at most 500 (MAX_DATA_ROWS)."
        ]
    }


def test_every_exceeded_limit_is_named_at_once() -> None:
    raw = digits(epochs=1_000)
    raw["model"]["layers"][0]["units"] = 10_000
    assert set(refusal(raw)) == {"fit.epochs", "model.layers[0].units"}


def test_limits_read_from_the_environment() -> None:
    env = {"MAX_LAYERS": "7", "MAX_UNITS": "8", "MAX_EPOCHS": "9", "MAX_DATA_ROWS": "10"}
    settings = Settings.from_env(env)
    assert (settings.max_layers, settings.max_units, settings.max_epochs) == (7, 8, 9)
    assert settings.max_data_rows == 10


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = offline_settings(
        tmp_path_factory,
        max_layers=3,
        max_units=600,
        max_epochs=50,
        max_params=1_000,
    )
    return create_app(settings).test_client()


def test_submit_over_a_limit_is_422_naming_it(http: Any) -> None:
    response = http.post("/v1/jobs", json=digits(epochs=51))
    assert response.status_code == 422
    body = response.get_json()
    assert body["type"] == "/problems/invalid-spec"
    assert body["errors"] == {
        "fit.epochs": ["51 epochs asked for; this service accepts at most 50 (MAX_EPOCHS)."]
    }


def test_submit_over_max_params_is_422_counted_by_keras(http: Any) -> None:
    # digits is 38,410 parameters by Keras's count; the limit here is 1,000.
    response = http.post("/v1/jobs", json=digits())
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "model.layers": [
            "The model has 38,410 parameters; this service accepts at most 1,000 (MAX_PARAMS)."
        ]
    }


def test_a_dry_run_counts_a_spec_over_the_limits_and_names_each_one(http: Any) -> None:
    model = copy.deepcopy(example("digits")["model"])
    model["layers"][0]["units"] = 601
    response = http.post("/v1/summary", json={"model": model, "fit": {"epochs": 51}})
    assert response.status_code == 200
    summary = response.get_json()
    assert summary["total_params"] == 64 * 601 + 601 + 601 * 10 + 10
    assert set(summary["over_limits"]) == {"model.layers", "model.layers[0].units", "fit.epochs"}
    assert "MAX_UNITS" in summary["over_limits"]["model.layers[0].units"][0]
    assert "MAX_PARAMS" in summary["over_limits"]["model.layers"][0]


def test_a_dry_run_counts_billions_of_parameters(http: Any) -> None:
    model = {"input_shape": [50_000], "layers": [{"type": "Dense", "units": 60_000}] * 3}
    summary = http.post("/v1/summary", json={"model": model}).get_json()
    assert summary["total_params"] == 50_000 * 60_000 + 2 * 60_000 * 60_000 + 3 * 60_000
    assert "model.layers" in summary["over_limits"]


def test_a_dry_run_within_the_limits_is_over_none(http: Any) -> None:
    small = {"input_shape": [2], "layers": [{"type": "Dense", "units": 1}]}
    assert http.post("/v1/summary", json={"model": small}).get_json()["over_limits"] == {}
