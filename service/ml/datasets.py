"""Training data: built-in datasets, inline arrays and uploaded tables, split
deterministically.

Pure NumPy and scikit-learn (no TensorFlow), so the API can check a spec's data before
queueing it. The worker loads the same data again from the same spec and seed, trusting
the rows the API checked. An uploaded table is read from the artifact store by the
caller and passed in, so this module does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from service.errors import InvalidSpec
from service.ml.arrays import rows_to_array

if TYPE_CHECKING:
    from service.ml.uploads import Table

SUM_OF_TWO_ROWS = 1_000
SUM_OF_TWO_HIGH = 50.0


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Dataset:
    """Training rows, and the validation and test rows when there are any.

    `validation` is set only when the spec gives inline validation rows; otherwise Keras
    holds out `fit.validation_split` of `train` itself.
    """

    train: Split
    validation: Split | None
    test: Split | None
    source: str  # how messages refer to the data: "dataset 'digits'" or "data.x"
    class_names: tuple[str | int, ...] | None = None  # label of each class index, if known
    labels_path: str = "data.dataset"  # the spec field to change when labels do not fit

    @property
    def row_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    def splits(self) -> dict[str, Split]:
        """Every split present, by the spec path it came from."""
        named = {"data": self.train, "data.validation": self.validation, "data.test": self.test}
        return {path: split for path, split in named.items() if split is not None}


def load_dataset(
    data_spec: dict[str, Any],
    seed: int,
    stratify: bool,
    uploaded: Table | None = None,
    checked: bool = True,
) -> Dataset:
    """The data a spec names, with its test split held out.

    `stratify` keeps class proportions equal in the train and test splits (for
    classification losses); it is dropped where some class is too rare to split.
    `uploaded` is the table of the spec's `dataset_id` (None if there is no such dataset).
    `checked` checks inline rows (numbers only, one shape, within float32's range);
    False trusts rows that were checked when the spec was submitted.
    """
    to_array = rows_to_array if checked else _trusted
    given: dict[str, Split] = {}
    labels_path = "data.dataset"
    if "dataset" in data_spec:
        name = data_spec["dataset"]
        x, y = builtin_arrays(name, data_spec.get("n_samples", SUM_OF_TWO_ROWS), seed)
        source, names = f"dataset '{name}'", class_names(name)
    elif "dataset_id" in data_spec:
        x, y = uploaded_arrays(uploaded, data_spec["dataset_id"], data_spec["target"])
        source, names = f"dataset {data_spec['dataset_id']} without {data_spec['target']!r}", None
        labels_path = "data.target"
    else:
        x, y = _inline_arrays(data_spec, "data", to_array)
        source, names, labels_path = "data.x", None, "data.y"
        for key in ("validation", "test"):
            if key in data_spec:
                given[key] = Split(*_inline_arrays(data_spec[key], f"data.{key}", to_array, (x, y)))
    if "test" in given:
        train, test = _shuffled(x, y, seed), given["test"]
    else:
        train, test = split(x, y, data_spec.get("test_fraction", 0.0), seed, stratify)
    return Dataset(train, given.get("validation"), test, source, names, labels_path)


def uploaded_arrays(
    table: Table | None, dataset_id: str, target: str
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (every column but `target`) and targets of an uploaded dataset."""
    if table is None:
        message = f"No uploaded dataset {dataset_id}. Upload it with POST /v1/datasets first."
        raise InvalidSpec({"data.dataset_id": [message]})
    if target not in table.columns:
        message = f"Dataset {dataset_id} has no column {target!r}. Its columns: "
        raise InvalidSpec({"data.target": [message + ", ".join(table.columns) + "."]})
    if len(table.columns) < 2:
        message = f"Dataset {dataset_id} has no columns besides {target!r} to learn from."
        raise InvalidSpec({"data.target": [message]})
    column = table.columns.index(target)
    return np.delete(table.values, column, axis=1), table.values[:, column]


def builtin_arrays(name: str, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of a built-in dataset (read-only arrays)."""
    if name == "sum_of_two":
        rng = np.random.default_rng(seed)
        x = rng.uniform(0.0, SUM_OF_TWO_HIGH, size=(n_samples, 2)).astype(np.float32)
        return x, x.sum(axis=1)
    return _sklearn_arrays(name)


@cache
def _sklearn_bunch(name: str) -> Any:
    # Imported here: scikit-learn costs ~0.5 s to import and only data loading needs it.
    from sklearn import datasets

    loaders = {
        "digits": datasets.load_digits,
        "digits_binary": datasets.load_digits,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
    }
    return loaders[name]()


@cache
def _sklearn_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    bunch = _sklearn_bunch(name)
    x, y = bunch.data, bunch.target
    if name == "digits_binary":  # the classic "is it a 0 or a 1?" recipe
        keep = y < 2
        x, y = x[keep], y[keep]
    x = x.astype(np.float32)
    y = y.astype(np.float32 if name == "diabetes" else np.int64)
    x.setflags(write=False)  # cached and shared: nobody may modify them
    y.setflags(write=False)
    return x, y


def class_names(name: str) -> tuple[str | int, ...] | None:
    """The label of each class index of a built-in classification dataset."""
    if name in ("digits", "digits_binary"):
        return tuple(range(10 if name == "digits" else 2))
    if name in ("iris", "wine", "breast_cancer"):
        return tuple(str(n) for n in _sklearn_bunch(name).target_names)
    return None


def split(
    x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, stratify: bool
) -> tuple[Split, Split | None]:
    """Shuffled train and test splits, the same for the same seed."""
    if test_fraction == 0:
        return _shuffled(x, y, seed), None
    from sklearn.model_selection import train_test_split

    labels = _class_labels(y) if stratify else None
    try:
        parts = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=labels)
    except ValueError:
        if labels is None:
            raise InvalidSpec(
                {"data.test_fraction": [_too_few_rows(len(x), test_fraction)]}
            ) from None
        # Some class has too few rows to appear on both sides: split without strata.
        return split(x, y, test_fraction, seed, stratify=False)
    x_train, x_test, y_train, y_test = parts
    return Split(x_train, y_train), Split(x_test, y_test)


def _class_labels(y: np.ndarray) -> np.ndarray | None:
    if y.ndim == 1:
        return y
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows
        return y.argmax(axis=1)
    return y.reshape(len(y))  # a column of labels


def _shuffled(x: np.ndarray, y: np.ndarray, seed: int) -> Split:
    # Keras takes `validation_split` from the end of the arrays, so they must not arrive
    # in the order they were written (sorted labels would give a one-class validation set).
    order = np.random.default_rng(seed).permutation(len(x))
    return Split(x[order], y[order])


def _inline_arrays(
    arrays: dict[str, Any],
    path: str,
    to_array: Any,
    like: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Inline `x` and `y` as arrays; held-out sets must have rows shaped `like` data's."""
    shapes = (None, None) if like is None else (like[0].shape[1:], like[1].shape[1:])
    x = to_array(arrays["x"], f"{path}.x", InvalidSpec, shapes[0], "like the rows of data.x")
    y = to_array(arrays["y"], f"{path}.y", InvalidSpec, shapes[1], "like data.y")
    if len(y) != len(x):
        message = f"Expected {len(x)} targets, one per row of {path}.x. Received: {len(y)}."
        raise InvalidSpec({f"{path}.y": [message]})
    return x, y


def _trusted(rows: Any, *args: Any) -> np.ndarray:
    # Rows checked by rows_to_array when the spec was submitted.
    return np.asarray(rows, dtype=np.float32)


def _too_few_rows(rows: int, fraction: float) -> str:
    return (
        f"Cannot hold out {fraction:g} of {rows} rows as a test split. "
        "Give more rows, a larger test_fraction, or test_fraction 0."
    )
