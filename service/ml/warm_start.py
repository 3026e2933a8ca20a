"""Warm start: a new model that begins from a finished job's weights (`init_from`).

Layers are matched by name (the spec's `name`, or the one Keras gives in a fresh
session: `dense`, `dense_1`, ...) and by the shapes of their weights: `"layers": "all"`
takes every layer of the new model that the source has with the same weight shapes (a
new head of another size is left to its initializer); a list takes those layers and
refuses any that the source lacks or holds in other shapes. Frozen layers keep the
weights they start with: they are not trained, and the summary counts them as
non-trainable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

Shapes = dict[str, list[tuple[int, ...]]]


def weight_shapes(model: keras.Model) -> Shapes:
    """Each layer's weight shapes, by layer name (layers without weights left out).
    Reads shapes only, so it works on a model built under `builder.shape_only()`."""
    return {
        layer.name: [tuple(w.shape) for w in layer.weights]
        for layer in model.layers
        if layer.weights
    }


def plan(
    init_from: Mapping[str, Any], new: Shapes, source: Shapes, layer_names: list[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """The layers to copy, and the errors (keyed `init_from.layers[i]`,
    `init_from.freeze[i]`) that make `init_from` unusable. `layer_names` are every
    layer of the new model, in order (frozen layers may hold no weights)."""
    source_job, errors = init_from["job_id"], {}
    if init_from["layers"] == "all":
        copied = [name for name, shapes in new.items() if source.get(name) == shapes]
        if not copied:
            errors["init_from.layers"] = [
                f"No layer of the new model matches one of job {source_job}'s by name and "
                f"weight shapes (its layers: {_names(source)})."
            ]
    else:
        copied = []
        for i, name in enumerate(init_from["layers"]):
            if name not in new:
                known = ", ".join(new) or "none with weights"
                errors[f"init_from.layers[{i}]"] = [
                    f"The new model has no layer {name!r} with weights ({known})."
                ]
            elif name not in source:
                errors[f"init_from.layers[{i}]"] = [
                    f"Job {source_job}'s model has no layer {name!r} with weights "
                    f"(its layers: {_names(source)})."
                ]
            elif source[name] != new[name]:
                errors[f"init_from.layers[{i}]"] = [
                    f"Layer {name!r} has weights of shapes {_shapes(new[name])} in the new "
                    f"model and {_shapes(source[name])} in job {source_job}'s."
                ]
            else:
                copied.append(name)
    for i, name in enumerate(init_from["freeze"]):
        if name not in layer_names:
            errors[f"init_from.freeze[{i}]"] = [
                f"The new model has no layer {name!r} (its layers: {', '.join(layer_names)})."
            ]
    return copied, errors


def freeze(model: keras.Model, names: list[str]) -> None:
    """Mark layers not trainable; before compiling, which reads it."""
    for name in names:
        model.get_layer(name).trainable = False


def copy_weights(model: keras.Model, source: keras.Model, names: list[str]) -> None:
    for name in names:
        model.get_layer(name).set_weights(source.get_layer(name).get_weights())


def _names(shapes: Shapes) -> str:
    return ", ".join(shapes) or "none with weights"


def _shapes(shapes: list[tuple[int, ...]]) -> str:
    return ", ".join(str(list(s)) for s in shapes)


def check(model_spec: dict[str, Any], init_from: Mapping[str, Any], source_path: Any) -> None:
    """Refuse (InvalidSpec naming the field) an `init_from` that cannot be applied to
    the model `model_spec` describes, from the source model saved at `source_path`."""
    from service.errors import InvalidSpec
    from service.ml.builder import build_model, shape_only

    with shape_only():
        model = build_model(model_spec)
    source = keras.models.load_model(source_path, compile=False)
    _, errors = plan(
        init_from, weight_shapes(model), weight_shapes(source), [x.name for x in model.layers]
    )
    if errors:
        raise InvalidSpec(errors)
