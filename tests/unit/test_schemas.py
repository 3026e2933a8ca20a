"""The training spec schema: defaults, names checked against the catalog, messages."""

from __future__ import annotations

import copy

import pytest

from service.config import Settings
from service.errors import InvalidSpec
from service.schemas.fields import choice_message, flatten_errors
from service.schemas.spec import load_model_spec, load_spec
from tests.helpers import example


def errors_of(spec: dict) -> dict[str, list[str]]:
    with pytest.raises(InvalidSpec) as caught:
        load_spec(spec)
    return caught.value.errors


def test_example_specs_load_and_fill_defaults() -> None:
    spec = load_spec(example("sum_of_two"))
    assert spec["compile"]["loss"] == {"type": "mean_squared_error"}  # alias resolved
    assert spec["compile"]["optimizer"] == {"type": "adam"}
    assert spec["fit"]["validation_split"] == 0.0
    assert spec["fit"]["shuffle"] is True
    assert spec["fit"]["early_stopping"] is None


def test_missing_fit_gets_all_defaults() -> None:
    raw = example("digits")
    del raw["fit"]
    fit = load_spec(raw)["fit"]
    assert (fit["epochs"], fit["batch_size"], fit["seed"]) == (10, 32, 0)


def test_misspelt_layer_type_names_the_closest_valid_one() -> None:
    raw = example("digits")
    raw["model"]["layers"][0]["type"] = "Dens"
    assert errors_of(raw) == {
        "model.layers[0].type": ["Unknown layer type 'Dens'. Did you mean 'Dense'?"]
    }


def test_misspelt_field_names_the_closest_valid_one() -> None:
    raw = example("digits")
    raw["fit"]["epoch"] = raw["fit"].pop("epochs")
    assert "Did you mean 'epochs'?" in errors_of(raw)["fit.epoch"][0]


def test_out_of_range_values_name_their_field() -> None:
    raw = example("digits")
    raw["model"]["layers"][1]["units"] = 0
    raw["fit"]["validation_split"] = 1.5
    errors = errors_of(raw)
    assert set(errors) == {"model.layers[1].units", "fit.validation_split"}


def test_layer_arguments_are_checked_per_type() -> None:
    raw = example("digits")
    raw["model"]["layers"][0]["filters"] = 3  # a Conv argument on a Dense layer
    raw["model"]["layers"][1]["activation"] = "softmx"
    errors = errors_of(raw)
    assert "Unknown field 'filters'" in errors["model.layers[0].filters"][0]
    assert "Did you mean 'softmax'" in errors["model.layers[1].activation"][0]


def test_required_layer_arguments_are_required() -> None:
    raw = example("digits")
    raw["model"]["layers"][0] = {"type": "Conv1D", "filters": 4}
    assert errors_of(raw) == {"model.layers[0].kernel_size": ["Missing data for required field."]}


def test_optimizer_accepts_a_name_or_an_object_with_its_own_arguments() -> None:
    raw = example("digits")
    raw["compile"]["optimizer"] = "sgd"
    assert load_spec(raw)["compile"]["optimizer"] == {"type": "sgd"}
    raw["compile"]["optimizer"] = {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9}
    assert load_spec(raw)["compile"]["optimizer"]["momentum"] == 0.9
    raw["compile"]["optimizer"] = {"type": "sgd", "beta_1": 0.9}  # an Adam argument
    assert "compile.optimizer.beta_1" in errors_of(raw)


def test_loss_accepts_keras_arguments_as_an_object() -> None:
    raw = example("digits")
    raw["compile"]["loss"] = {"type": "sparse_categorical_crossentropy", "from_logits": True}
    assert load_spec(raw)["compile"]["loss"]["from_logits"] is True


def test_unknown_metric_and_loss_are_refused() -> None:
    raw = example("digits")
    raw["compile"]["metrics"] = ["acuracy"]
    raw["compile"]["loss"] = "cross_entropy"
    errors = errors_of(raw)
    assert "Did you mean 'accuracy'" in errors["compile.metrics[0]"][0]
    assert "compile.loss.type" in errors


def test_early_stopping_must_monitor_something_that_is_logged() -> None:
    raw = example("digits")
    raw["fit"]["early_stopping"]["monitor"] = "val_acc"
    assert "Did you mean 'val_accuracy'" in errors_of(raw)["fit.early_stopping.monitor"][0]


def test_validation_quantities_need_validation_data() -> None:
    raw = example("digits")
    raw["fit"]["validation_split"] = 0
    message = errors_of(raw)["fit.early_stopping.monitor"][0]
    assert "fit.validation_split or data.validation" in message


def test_data_needs_exactly_one_source() -> None:
    raw = example("digits")
    raw["data"] = {"dataset": "iris", "x": [[1.0]], "y": [1]}
    assert "data" in errors_of(raw)
    raw["data"] = {"test_fraction": 0.2}
    assert "data" in errors_of(raw)


def test_inline_data_without_targets_is_refused() -> None:
    raw = example("sum_of_two")
    raw["data"] = {"x": [[1, 2]]}
    assert "data.y" in errors_of(raw)


def test_layer_names_must_be_unique() -> None:
    raw = example("digits")
    for layer in raw["model"]["layers"]:
        layer["name"] = "same"
    assert "Repeated: ['same']" in errors_of(raw)["model.layers"][0]


def test_nan_is_not_a_learning_rate() -> None:
    raw = example("digits")
    raw["compile"]["optimizer"]["learning_rate"] = float("nan")
    assert "compile.optimizer.learning_rate" in errors_of(raw)


def test_dry_run_needs_only_the_model() -> None:
    raw = {"model": copy.deepcopy(example("digits")["model"])}
    assert load_model_spec(raw)["model"]["input_shape"] == [64]


def test_flatten_errors_keys_nested_messages_by_json_path() -> None:
    nested = {"model": {"layers": {2: {"units": ["bad"]}}, "_schema": ["whole"]}}
    assert flatten_errors(nested) == {"model.layers[2].units": ["bad"], "model": ["whole"]}


def test_choice_message_lists_all_choices_when_nothing_is_close() -> None:
    assert (
        choice_message("zzz", ["a", "b"], "thing") == "Unknown thing 'zzz'. Expected one of: a, b."
    )


@pytest.mark.parametrize("name", ["evil\u202egnp.exe", "tab\there", "a\u2066b"])
def test_names_that_display_other_than_they_read_are_refused(name: str) -> None:
    raw = {**example("digits"), "name": name}
    with pytest.raises(InvalidSpec) as caught:
        load_spec(raw)
    assert "bidirectional formatting" in caught.value.errors["name"][0]


def test_a_count_below_its_range_says_the_limit_in_force() -> None:
    raw = example("digits")
    raw["fit"]["epochs"] = 0
    with pytest.raises(InvalidSpec) as caught:
        load_spec(raw, Settings(max_epochs=50))
    assert caught.value.errors == {
        "fit.epochs": ["Expected 1 to 50 epochs (MAX_EPOCHS). Received: 0."]
    }
