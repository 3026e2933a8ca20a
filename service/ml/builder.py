"""Spec -> Keras model: build, compile, adapt.

Every class is looked up by a name the schema has already checked against
`service.ml.catalog`; nothing from a spec is evaluated as code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np
from keras.src.backend.common import global_state

from service.errors import InvalidSpec
from service.ml.catalog import LOSSES, OPTIMIZERS


def build_model(model_spec: dict[str, Any]) -> keras.Sequential:
    """The Sequential model a spec describes, built for its `input_shape`.

    Layers without a `name` are named as Keras names them in a fresh session (`dense`,
    `dense_1`, ...), so summaries do not depend on how many models this process built.
    A layer Keras refuses (a Conv2D on flat rows, say) is an InvalidSpec naming it.
    """
    taken = {layer["name"] for layer in model_spec["layers"] if "name" in layer}
    shape = tuple(model_spec["input_shape"])
    model = keras.Sequential([keras.Input(shape=shape)], name="sequential")
    for i, layer_spec in enumerate(model_spec["layers"]):
        kwargs = {k: v for k, v in layer_spec.items() if k != "type"}
        if "name" not in kwargs:
            kwargs["name"] = _keras_name(layer_spec["type"], taken)
            taken.add(kwargs["name"])
        if layer_spec["type"] == "Reshape":
            _check_reshape(shape, tuple(layer_spec["target_shape"]), i)
        try:
            model.add(getattr(keras.layers, layer_spec["type"])(**kwargs))
        except Exception as exc:  # Keras refusing this layer on this input, however it says so
            raise InvalidSpec({f"model.layers[{i}]": [keras_message(exc)]}) from None
        shape = tuple(model.layers[-1].output.shape[1:])
    return model


def _check_reshape(shape: tuple[int, ...], target: tuple[int, ...], index: int) -> None:
    """A Reshape must keep the number of values in a row (Keras says only that it
    failed, without the sizes)."""
    values, known = math.prod(shape), math.prod(d for d in target if d != -1)
    fits = values % known == 0 if -1 in target else values == known
    if not fits:
        needs = f"a multiple of {known:,}" if -1 in target else f"{known:,}"
        raise InvalidSpec(
            {
                f"model.layers[{index}].target_shape": [
                    f"Reshape to {list(target)} needs {needs} values per row; its input has "
                    f"shape {list(shape)}, {values:,} values."
                ]
            }
        )


# Keras wraps a layer's error in paragraphs of its own: which call failed, and the
# arguments it received (tensor reprs, no use to a client).
_KERAS_WRAPPING = ("Exception encountered when calling", "Arguments received by")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TF_NODE = re.compile(r"\s*(\[\[\{\{node [^]]*\]\]|\[Op:[^]]*\])")
_PATH = re.compile(r"""(?:File ")?(?:/[^\s"':,]+)+(?:\.py)?"?(?:, line \d+)?(?::\d+)?""")


def keras_message(exc: BaseException, limit: int = 400) -> str:
    """What a Keras (or TensorFlow) error says, fit to show a client: its first
    paragraph of substance, without terminal colours, file paths or tensor reprs."""
    paragraphs = [p for p in _ANSI.sub("", str(exc)).strip().split("\n\n") if p.strip()]
    useful = [p for p in paragraphs if not p.strip().startswith(_KERAS_WRAPPING)]
    first = (useful or paragraphs or [type(exc).__name__])[0]
    if first.startswith("Graph execution error") and len(paragraphs) > 1:
        # TensorFlow's op error comes last, after the Python frames it was defined at.
        first = paragraphs[-1]
    text = _TF_NODE.sub("", " ".join(first.split()))
    text = _PATH.sub("<path>", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def shape_only() -> Iterator[None]:
    """Build models inside this block without allocating their weights.

    Keras defers creating variables made in a StatelessScope; leaving the scope normally
    allocates them all. We leave with `initialize_variables=False` and forget the
    deferred ones, so a spec asking for billions of parameters can be counted (and
    refused) without the memory. Keras keeps that list per thread, so restoring it
    touches no other request.
    """
    pending = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", pending)


def compile_model(model: keras.Model, compile_spec: dict[str, Any]) -> None:
    """Compile with the spec's optimizer, loss and metrics."""
    model.compile(
        optimizer=_instantiate(keras.optimizers, OPTIMIZERS, compile_spec["optimizer"]),
        loss=_instantiate(keras.losses, LOSSES, compile_spec["loss"]),
        metrics=list(compile_spec["metrics"]),
    )


def adapt_normalization(model: keras.Sequential, x: np.ndarray) -> None:
    """Adapt every Normalization layer to what reaches it from the training inputs.

    The mean and variance are stored in the model, so clients predict on raw inputs.
    """
    features = x
    norm_positions = [
        i for i, layer in enumerate(model.layers) if isinstance(layer, keras.layers.Normalization)
    ]
    if not norm_positions:
        return
    for i, layer in enumerate(model.layers[: norm_positions[-1] + 1]):
        if i in norm_positions:
            layer.adapt(features)
        features = np.asarray(layer(features, training=False))


def _instantiate(module: Any, table: dict[str, Any], named: dict[str, Any]) -> Any:
    kwargs = {k: v for k, v in named.items() if k != "type"}
    return getattr(module, table[named["type"]].keras_class)(**kwargs)


def to_snake_case(class_name: str) -> str:
    """Keras's default layer-name prefix for a class: `MaxPooling2D` -> `max_pooling2d`."""
    words = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()


def _keras_name(type_name: str, taken: set[str]) -> str:
    prefix = to_snake_case(type_name)
    name, n = prefix, 0
    while name in taken:
        n += 1
        name = f"{prefix}_{n}"
    return name
