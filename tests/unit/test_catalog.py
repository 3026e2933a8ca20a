"""Every name the catalog allows resolves in the installed Keras, with its arguments."""

from __future__ import annotations

import re

import keras
import pytest

from service.ml import catalog
from service.ml.builder import _keras_name, to_snake_case
from service.schemas.spec import LAYER_SCHEMAS

# A valid value for each argument kind, to construct every layer with every argument.
SAMPLE = {
    catalog.Arg.POSITIVE_INT: 2,
    catalog.Arg.NON_NEGATIVE_INT: 1,
    catalog.Arg.INT: -1,
    catalog.Arg.FLOAT: 0.5,
    catalog.Arg.POSITIVE_FLOAT: 0.01,
    catalog.Arg.FRACTION: 0.5,
    catalog.Arg.BOOL: True,
    catalog.Arg.ACTIVATION: "relu",
    catalog.Arg.INITIALIZER: "zeros",
    catalog.Arg.PADDING: "same",
    catalog.Arg.CONV1D_PADDING: "causal",
    catalog.Arg.INT_OR_TUPLE: 1,
    catalog.Arg.TARGET_SHAPE: [2, -1],
    catalog.Arg.AXIS: -1,
}


@pytest.mark.parametrize("name", sorted(catalog.LAYERS))
def test_each_layer_accepts_every_argument_the_catalog_allows(name: str) -> None:
    layer_type = catalog.LAYERS[name]
    kwargs = {arg: SAMPLE[kind] for arg, kind in layer_type.args.items()}
    layer = getattr(keras.layers, name)(**kwargs)
    assert isinstance(layer, keras.layers.Layer)
    assert set(LAYER_SCHEMAS[name].fields) == {"type", "name", *layer_type.args}


@pytest.mark.parametrize("name", sorted(catalog.LAYERS))
def test_default_layer_names_match_keras(name: str) -> None:
    kwargs = {arg: SAMPLE[catalog.LAYERS[name].args[arg]] for arg in catalog.LAYERS[name].required}
    keras_name = getattr(keras.layers, name)(**kwargs).name
    # Keras appends _N to its own auto names once the prefix has been used in a session.
    assert re.fullmatch(re.escape(to_snake_case(name)) + r"(_\d+)?", keras_name)


def test_default_names_skip_taken_ones_like_keras() -> None:
    assert _keras_name("Dense", set()) == "dense"
    assert _keras_name("Dense", {"dense", "dense_1"}) == "dense_2"


@pytest.mark.parametrize("name", catalog.ACTIVATIONS)
def test_activations_resolve(name: str) -> None:
    assert callable(keras.activations.get(name))


@pytest.mark.parametrize("name", catalog.INITIALIZERS)
def test_initializers_resolve(name: str) -> None:
    assert keras.initializers.get(name) is not None


@pytest.mark.parametrize("name", sorted(catalog.LOSSES))
def test_losses_construct_with_their_arguments(name: str) -> None:
    loss = catalog.LOSSES[name]
    kwargs = {arg: SAMPLE[kind] for arg, kind in loss.args.items()}
    assert isinstance(getattr(keras.losses, loss.keras_class)(**kwargs), keras.losses.Loss)


@pytest.mark.parametrize("alias", sorted(catalog.LOSS_ALIASES))
def test_loss_aliases_mean_what_keras_means(alias: str) -> None:
    canonical = catalog.canonical_loss(alias)
    assert keras.losses.get(alias) is keras.losses.get(canonical)


@pytest.mark.parametrize("name", catalog.METRICS)
def test_metrics_resolve(name: str) -> None:
    assert keras.metrics.get(name) is not None


@pytest.mark.parametrize("name", sorted(catalog.OPTIMIZERS))
def test_optimizers_construct_with_their_arguments(name: str) -> None:
    optimizer = catalog.OPTIMIZERS[name]
    kwargs = {arg: SAMPLE[kind] for arg, kind in optimizer.args.items()}
    for clip in ("clipvalue", "global_clipnorm"):  # Keras takes one clipping argument
        del kwargs[clip]
    instance = getattr(keras.optimizers, optimizer.keras_class)(**kwargs)
    assert isinstance(instance, keras.optimizers.Optimizer)
