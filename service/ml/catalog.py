"""What a training spec may name: layers and their arguments, activations, losses,
metrics, optimizers and built-in datasets.

This is the allow-list that keeps client specs from ever reaching arbitrary Keras
objects (or code): every name a spec uses is looked up here first. It is plain data, so
validation in the API does not need TensorFlow; a unit test checks that every entry
resolves in Keras, so the table cannot drift from the installed version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Arg(Enum):
    """The kinds of value a layer or optimizer argument accepts."""

    POSITIVE_INT = "positive integer"
    NON_NEGATIVE_INT = "non-negative integer"
    INT = "integer"
    FLOAT = "number"
    POSITIVE_FLOAT = "positive number"
    FRACTION = "number in [0, 1)"
    BOOL = "boolean"
    ACTIVATION = "activation name"
    INITIALIZER = "initializer name"
    PADDING = "padding: 'valid' or 'same'"
    CONV1D_PADDING = "padding: 'valid', 'same' or 'causal'"
    INT_OR_TUPLE = "positive integer or list of positive integers"
    TARGET_SHAPE = "list of positive integers (one may be -1)"
    AXIS = "integer or list of integers"


ACTIVATIONS = (
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "sigmoid",
    "hard_sigmoid",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "tanh",
    "exponential",
)

INITIALIZERS = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "zeros",
    "ones",
)

# Arguments shared by several layer families, composed below.
_DENSE_LIKE = {
    "activation": Arg.ACTIVATION,
    "use_bias": Arg.BOOL,
    "kernel_initializer": Arg.INITIALIZER,
    "bias_initializer": Arg.INITIALIZER,
}
_CONV = {
    "filters": Arg.POSITIVE_INT,
    "kernel_size": Arg.INT_OR_TUPLE,
    "strides": Arg.INT_OR_TUPLE,
    "dilation_rate": Arg.INT_OR_TUPLE,
    **_DENSE_LIKE,
}
_POOL = {"pool_size": Arg.INT_OR_TUPLE, "strides": Arg.INT_OR_TUPLE, "padding": Arg.PADDING}
_GLOBAL_POOL = {"keepdims": Arg.BOOL}
_RNN = {
    "units": Arg.POSITIVE_INT,
    "return_sequences": Arg.BOOL,
    "dropout": Arg.FRACTION,
    "recurrent_dropout": Arg.FRACTION,
    "go_backwards": Arg.BOOL,
    **_DENSE_LIKE,
}
_GATED_RNN = {**_RNN, "recurrent_activation": Arg.ACTIVATION}
_NORM = {"axis": Arg.AXIS, "epsilon": Arg.POSITIVE_FLOAT, "center": Arg.BOOL, "scale": Arg.BOOL}


@dataclass(frozen=True)
class LayerType:
    """A Keras layer class a spec may use: its keyword arguments and which are required."""

    args: dict[str, Arg]
    required: tuple[str, ...] = ()


LAYERS: dict[str, LayerType] = {
    "Dense": LayerType({"units": Arg.POSITIVE_INT, **_DENSE_LIKE}, ("units",)),
    "Dropout": LayerType({"rate": Arg.FRACTION, "seed": Arg.NON_NEGATIVE_INT}, ("rate",)),
    "Flatten": LayerType({}),
    "Reshape": LayerType({"target_shape": Arg.TARGET_SHAPE}, ("target_shape",)),
    "Activation": LayerType({"activation": Arg.ACTIVATION}, ("activation",)),
    "BatchNormalization": LayerType({**_NORM, "momentum": Arg.FRACTION}),
    "LayerNormalization": LayerType(dict(_NORM)),
    # Adapted to the training inputs before fit (see ml.training), so clients predict on
    # raw inputs and the mean and variance travel inside the saved model.
    "Normalization": LayerType({"axis": Arg.AXIS}),
    "Conv1D": LayerType({**_CONV, "padding": Arg.CONV1D_PADDING}, ("filters", "kernel_size")),
    "Conv2D": LayerType({**_CONV, "padding": Arg.PADDING}, ("filters", "kernel_size")),
    "MaxPooling1D": LayerType(dict(_POOL)),
    "MaxPooling2D": LayerType(dict(_POOL)),
    # Keras gives MaxPooling a default pool_size of 2 but AveragePooling none.
    "AveragePooling1D": LayerType(dict(_POOL), ("pool_size",)),
    "AveragePooling2D": LayerType(dict(_POOL), ("pool_size",)),
    "GlobalAveragePooling1D": LayerType(dict(_GLOBAL_POOL)),
    "GlobalAveragePooling2D": LayerType(dict(_GLOBAL_POOL)),
    "GlobalMaxPooling1D": LayerType(dict(_GLOBAL_POOL)),
    "GlobalMaxPooling2D": LayerType(dict(_GLOBAL_POOL)),
    "Embedding": LayerType(
        {
            "input_dim": Arg.POSITIVE_INT,
            "output_dim": Arg.POSITIVE_INT,
            "mask_zero": Arg.BOOL,
            "embeddings_initializer": Arg.INITIALIZER,
        },
        ("input_dim", "output_dim"),
    ),
    "SimpleRNN": LayerType(dict(_RNN), ("units",)),
    "LSTM": LayerType(dict(_GATED_RNN), ("units",)),
    "GRU": LayerType(dict(_GATED_RNN), ("units",)),
}


class LossKind(Enum):
    """What a loss expects of the labels and of the model's output."""

    SPARSE = "integer class indices, one output unit per class"
    CATEGORICAL = "one-hot rows, one output unit per class"
    BINARY = "labels 0 or 1, one output unit per label"
    REGRESSION = "numbers, one output per target column"


@dataclass(frozen=True)
class Loss:
    """A Keras loss class, what it expects, and the keyword arguments it accepts."""

    keras_class: str
    kind: LossKind
    args: dict[str, Arg] = field(default_factory=dict)


_CROSSENTROPY_ARGS = {"from_logits": Arg.BOOL, "label_smoothing": Arg.FRACTION}

LOSSES: dict[str, Loss] = {
    "sparse_categorical_crossentropy": Loss(
        "SparseCategoricalCrossentropy", LossKind.SPARSE, {"from_logits": Arg.BOOL}
    ),
    "categorical_crossentropy": Loss(
        "CategoricalCrossentropy", LossKind.CATEGORICAL, dict(_CROSSENTROPY_ARGS)
    ),
    "categorical_hinge": Loss("CategoricalHinge", LossKind.CATEGORICAL),
    "binary_crossentropy": Loss("BinaryCrossentropy", LossKind.BINARY, dict(_CROSSENTROPY_ARGS)),
    "binary_focal_crossentropy": Loss(
        "BinaryFocalCrossentropy",
        LossKind.BINARY,
        {**_CROSSENTROPY_ARGS, "gamma": Arg.POSITIVE_FLOAT},
    ),
    "hinge": Loss("Hinge", LossKind.BINARY),
    "squared_hinge": Loss("SquaredHinge", LossKind.BINARY),
    "mean_squared_error": Loss("MeanSquaredError", LossKind.REGRESSION),
    "mean_absolute_error": Loss("MeanAbsoluteError", LossKind.REGRESSION),
    "mean_absolute_percentage_error": Loss("MeanAbsolutePercentageError", LossKind.REGRESSION),
    "mean_squared_logarithmic_error": Loss("MeanSquaredLogarithmicError", LossKind.REGRESSION),
    "huber": Loss("Huber", LossKind.REGRESSION, {"delta": Arg.POSITIVE_FLOAT}),
    "log_cosh": Loss("LogCosh", LossKind.REGRESSION),
    "poisson": Loss("Poisson", LossKind.REGRESSION),
}
# Keras's short names, as `model.compile(loss="mse")` accepts them.
LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
}

# Metrics by the string Keras accepts in compile(); Keras names each history entry after
# that same string, which is what early stopping's `monitor` refers to.
METRICS = (
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "auc",
    "precision",
    "recall",
    "mae",
    "mse",
    "mape",
    "msle",
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "r2_score",
    "cosine_similarity",
    "log_cosh_error",
)

_ADAM_ARGS = {"beta_1": Arg.FRACTION, "beta_2": Arg.FRACTION, "epsilon": Arg.POSITIVE_FLOAT}
_COMMON_OPTIMIZER_ARGS = {
    "learning_rate": Arg.POSITIVE_FLOAT,
    "weight_decay": Arg.POSITIVE_FLOAT,
    "clipnorm": Arg.POSITIVE_FLOAT,
    "clipvalue": Arg.POSITIVE_FLOAT,
    "global_clipnorm": Arg.POSITIVE_FLOAT,
}


@dataclass(frozen=True)
class Optimizer:
    """A Keras optimizer class and the keyword arguments it accepts."""

    keras_class: str
    args: dict[str, Arg]


OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer(
        "SGD", {**_COMMON_OPTIMIZER_ARGS, "momentum": Arg.FRACTION, "nesterov": Arg.BOOL}
    ),
    "adam": Optimizer("Adam", {**_COMMON_OPTIMIZER_ARGS, **_ADAM_ARGS, "amsgrad": Arg.BOOL}),
    "adamw": Optimizer("AdamW", {**_COMMON_OPTIMIZER_ARGS, **_ADAM_ARGS, "amsgrad": Arg.BOOL}),
    "adamax": Optimizer("Adamax", {**_COMMON_OPTIMIZER_ARGS, **_ADAM_ARGS}),
    "nadam": Optimizer("Nadam", {**_COMMON_OPTIMIZER_ARGS, **_ADAM_ARGS}),
    "rmsprop": Optimizer(
        "RMSprop",
        {
            **_COMMON_OPTIMIZER_ARGS,
            "rho": Arg.FRACTION,
            "momentum": Arg.FRACTION,
            "epsilon": Arg.POSITIVE_FLOAT,
            "centered": Arg.BOOL,
        },
    ),
    "adagrad": Optimizer("Adagrad", {**_COMMON_OPTIMIZER_ARGS, "epsilon": Arg.POSITIVE_FLOAT}),
    "adadelta": Optimizer(
        "Adadelta", {**_COMMON_OPTIMIZER_ARGS, "rho": Arg.FRACTION, "epsilon": Arg.POSITIVE_FLOAT}
    ),
}

# Built-in datasets: the scikit-learn ones ship inside the package (no download at run
# time) and sum_of_two is generated from the spec's seed.
DATASETS: dict[str, str] = {
    "digits": "8x8 handwritten digits as 64 pixel values 0-16; labels 0-9 (1,797 rows)",
    "digits_binary": "the digits 0 and 1 only, labels 0 or 1 (360 rows)",
    "iris": "4 flower measurements; labels 0-2 (150 rows)",
    "wine": "13 chemical measurements; labels 0-2 (178 rows)",
    "breast_cancer": "30 tumour measurements; labels 0 (malignant) or 1 (benign) (569 rows)",
    "diabetes": "10 scaled patient measurements; target a disease progression score (442 rows)",
    "sum_of_two": "pairs of numbers in [0, 50); target their sum (n_samples rows, default 1,000)",
}


def canonical_loss(name: str) -> str:
    """The catalog's name for a loss, resolving Keras's short aliases ("mse")."""
    return LOSS_ALIASES.get(name, name)
