"""Spec -> model: structure and counts equal what Keras itself builds and counts."""

from __future__ import annotations

import resource

import keras
import numpy as np
import pytest

from service.config import Settings
from service.errors import InvalidSpec
from service.ml.builder import adapt_normalization, build_model, compile_model, shape_only
from service.ml.preflight import limit_errors, model_summary
from service.ml.summary import summarize
from service.schemas.spec import load_spec
from tests.helpers import example


def test_digits_recipe_counts_as_keras_counts_it() -> None:
    summary = summarize(build_model(load_spec(example("digits"))["model"]))
    assert [layer["params"] for layer in summary["layers"]] == [33_280, 5_130]
    assert summary["total_params"] == summary["trainable_params"] == 38_410
    assert summary["non_trainable_params"] == 0
    assert summary["size_bytes"] == 38_410 * 4  # float32 weights: Keras prints 150.04 KB
    assert [layer["name"] for layer in summary["layers"]] == ["dense", "dense_1"]
    assert summary["layers"][0]["output_shape"] == [None, 512]


CONV_SPEC = {
    "input_shape": [8, 8, 1],
    "layers": [
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "activation": "relu"},
        {"type": "BatchNormalization"},
        {"type": "MaxPooling2D", "pool_size": 2},
        {"type": "Dropout", "rate": 0.25},
        {"type": "Flatten"},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ],
}


def keras_twin() -> keras.Sequential:
    """The CONV_SPEC model written by hand in Keras."""
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Dropout(0.25),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def test_summary_matches_a_hand_written_keras_model() -> None:
    ours, twin = summarize(build_model(CONV_SPEC)), keras_twin()
    assert ours["total_params"] == twin.count_params()
    assert [layer["params"] for layer in ours["layers"]] == [
        lay.count_params() for lay in twin.layers
    ]
    assert [tuple(layer["output_shape"]) for layer in ours["layers"]] == [
        tuple(lay.output.shape) for lay in twin.layers
    ]
    # BatchNormalization's moving mean and variance are Keras's non-trainable params.
    assert ours["non_trainable_params"] == 16
    assert ours["trainable_params"] == twin.count_params() - 16


SEQUENCE_SPEC = {
    "input_shape": [12],
    "layers": [
        {"type": "Embedding", "input_dim": 50, "output_dim": 8},
        {"type": "Conv1D", "filters": 4, "kernel_size": 3, "padding": "causal"},
        {"type": "LSTM", "units": 6, "return_sequences": True},
        {"type": "GRU", "units": 5, "return_sequences": True},
        {"type": "SimpleRNN", "units": 4, "return_sequences": True},
        {"type": "GlobalAveragePooling1D"},
        {"type": "Dense", "units": 1, "activation": "sigmoid"},
    ],
}


def test_sequence_layers_build_with_keras_counts() -> None:
    model = build_model(SEQUENCE_SPEC)
    summary = summarize(model)
    assert summary["total_params"] == model.count_params()
    lstm = summary["layers"][2]
    assert lstm["params"] == 4 * (6 * (4 + 6) + 6)  # four gates over [input, state] + bias
    assert summary["output_shape"] == [None, 1]


def test_shape_only_build_counts_without_allocating() -> None:
    huge = {"input_shape": [64], "layers": [{"type": "Dense", "units": 50_000}] * 2}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with shape_only():
        summary = summarize(build_model(huge))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert summary["total_params"] == 64 * 50_000 + 50_000 + 50_000 * 50_000 + 50_000
    assert grown_mib < 1_000  # the weights alone would take 10 GB
    # ...and the deferred weights are forgotten: a normal build afterwards works.
    assert (
        build_model({"input_shape": [2], "layers": [{"type": "Dense", "units": 1}]}).count_params()
        == 3
    )


def test_models_over_the_parameter_limit_are_named_with_the_limit() -> None:
    spec = load_spec(example("digits"))
    errors = limit_errors(model_summary(spec["model"]), spec, Settings(max_params=10_000))
    assert "38,410 parameters" in errors["model.layers"][0]
    assert "10,000" in errors["model.layers"][0]


def test_activation_memory_is_estimated_from_output_shapes_and_named_by_layer() -> None:
    # The hostile battery's spec: 5.57 M parameters, 17 GB of activations a row.
    raw = {
        "model": {
            "input_shape": [4],
            "layers": [
                {"type": "Dense", "units": 65_536},
                {"type": "Reshape", "target_shape": [256, 256, 1]},
                {"type": "Conv2D", "filters": 65_536, "kernel_size": 3},
            ],
        },
        "compile": {"loss": "mse"},
        "data": {"dataset": "digits"},
        "fit": {"batch_size": 8},
    }
    spec = load_spec(raw)
    summary = model_summary(spec["model"])
    conv = summary["layers"][2]
    assert conv["activation_bytes"] == 254 * 254 * 65_536 * 4
    assert summary["activation_bytes"] == 65_536 * 4 * 2 + conv["activation_bytes"]
    errors = limit_errors(summary, spec, Settings())
    [message] = errors["model.layers[2]"]
    assert "Conv2D 'conv2d'" in message
    assert "MAX_ACTIVATION_BYTES" in message
    assert (
        limit_errors(model_summary(load_spec(example("digits"))["model"]), spec, Settings()) == {}
    )


def test_a_layer_keras_refuses_is_an_error_naming_that_layer() -> None:
    spec = {
        "input_shape": [64],
        "layers": [
            {"type": "Dense", "units": 4},
            {"type": "Conv2D", "filters": 2, "kernel_size": 3},
        ],
    }
    with pytest.raises(InvalidSpec) as caught:
        build_model(spec)
    assert list(caught.value.errors) == ["model.layers[1]"]
    assert "conv2d" in caught.value.errors["model.layers[1]"][0]


def test_normalization_is_adapted_to_the_training_inputs() -> None:
    model = build_model(
        {"input_shape": [2], "layers": [{"type": "Normalization"}, {"type": "Dense", "units": 1}]}
    )
    x = np.array([[0.0, 100.0], [2.0, 300.0], [4.0, 500.0]], np.float32)
    adapt_normalization(model, x)
    normalized = np.asarray(model.layers[0](x))
    np.testing.assert_allclose(normalized.mean(axis=0), [0, 0], atol=1e-5)
    np.testing.assert_allclose(normalized.std(axis=0), [1, 1], atol=1e-3)


def test_compile_uses_the_spec_optimizer_and_loss() -> None:
    spec = load_spec(example("digits"))
    spec["compile"]["optimizer"] = {"type": "sgd", "learning_rate": 0.05, "momentum": 0.5}
    model = build_model(spec["model"])
    compile_model(model, spec["compile"])
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert model.optimizer.momentum == 0.5
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
