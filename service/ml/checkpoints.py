"""Checkpoints of a fit in progress, so a job whose worker dies resumes where it was.

A checkpoint is one file, written whole (service.ml.artifacts): the model's weights,
the optimizer's variables (Adam's moments and its step count included), early
stopping's state (its best value, patience used, best epoch and best weights), the
history so far and the seconds spent fitting. Keras's own BackupAndRestore was not
used: it writes to a local directory of the process (a job resumed on another machine
would not find it) and keeps neither the history nor early stopping's state, so a
resumed job would report its epochs again and forget its best weights.

The file is an `.npz` of plain arrays plus one JSON document, read without pickle.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

_STATE = "state"
_STOPPING = ("wait", "best", "best_epoch", "stopped_epoch")


@dataclass
class Resume:
    """Where a resumed fit starts: after `epoch` (1-based, the last one saved)."""

    epoch: int
    history: dict[str, list[float | None]]
    fit_seconds: float
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]
    stopping: dict[str, Any] = field(default_factory=dict)
    best_weights: list[np.ndarray] | None = None


def dumps(
    model: keras.Model,
    epoch: int,
    history: dict[str, list[float | None]],
    fit_seconds: float,
    stopping: keras.callbacks.EarlyStopping | None,
) -> bytes:
    """A checkpoint of `model` after `epoch`."""
    arrays: dict[str, np.ndarray] = {}
    for prefix, values in (
        ("w", model.get_weights()),
        ("o", [np.asarray(v) for v in model.optimizer.variables]),
        ("b", (stopping.best_weights or []) if stopping is not None else []),
    ):
        for i, value in enumerate(values):
            arrays[f"{prefix}{i}"] = np.asarray(value)
    state = {
        "epoch": epoch,
        "history": history,
        "fit_seconds": fit_seconds,
        "stopping": {k: _plain(getattr(stopping, k)) for k in _STOPPING} if stopping else {},
        "has_best_weights": bool(stopping is not None and stopping.best_weights),
    }
    arrays[_STATE] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def loads(blob: bytes) -> Resume:
    with np.load(io.BytesIO(blob), allow_pickle=False) as found:
        state = json.loads(found[_STATE].tobytes())

        def series(prefix: str) -> list[np.ndarray]:
            count = sum(1 for name in found.files if name[0] == prefix and name[1:].isdigit())
            return [found[f"{prefix}{i}"] for i in range(count)]

        return Resume(
            epoch=state["epoch"],
            history=state["history"],
            fit_seconds=state["fit_seconds"],
            weights=series("w"),
            optimizer=series("o"),
            stopping=state["stopping"],
            best_weights=series("b") if state["has_best_weights"] else None,
        )


def restore(model: keras.Model, resume: Resume) -> None:
    """Put a checkpoint's weights and optimizer state into a compiled `model` built
    from the same spec."""
    model.set_weights(resume.weights)
    model.optimizer.build(model.trainable_variables)
    variables = model.optimizer.variables
    if len(variables) != len(resume.optimizer):
        raise ValueError(
            f"The checkpoint holds {len(resume.optimizer)} optimizer variables; the "
            f"optimizer has {len(variables)}."
        )
    for variable, value in zip(variables, resume.optimizer, strict=True):
        variable.assign(value)


class RestoreStopping(keras.callbacks.Callback):
    """Put early stopping's state back after it resets itself at the start of a fit
    (so place it after the EarlyStopping callback)."""

    def __init__(self, stopping: keras.callbacks.EarlyStopping, resume: Resume) -> None:
        super().__init__()
        self.stopping, self.resume = stopping, resume

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        for name, value in self.resume.stopping.items():
            setattr(self.stopping, name, value)
        if self.resume.best_weights is not None:
            self.stopping.best_weights = self.resume.best_weights


class Checkpointer(keras.callbacks.Callback):
    """Every `every` epochs, hands a checkpoint to `write` (which stores it whole).
    Place it after early stopping, so the state it saves includes the epoch's verdict.
    `skip()` says an epoch was cut short (canceled, out of time) and is not to be kept."""

    def __init__(
        self,
        every: int,
        write: Callable[[bytes], None],
        history: dict[str, list[float | None]],
        fit_seconds: float,
        stopping: keras.callbacks.EarlyStopping | None,
        skip: Callable[[], bool],
        clean: Callable[[Any], float | None],
    ) -> None:
        super().__init__()
        self.every, self.write, self.skip, self.clean = every, write, skip, clean
        self.history = {name: list(values) for name, values in history.items()}
        self.stopping = stopping
        self.seconds_before = fit_seconds
        self.started = time.monotonic()
        self.costs: list[float] = []  # seconds each checkpoint took to make and write

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.skip():
            return
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(self.clean(value))
        if (epoch + 1) % self.every:
            return
        began = time.monotonic()
        seconds = self.seconds_before + began - self.started
        self.write(dumps(self.model, epoch + 1, self.history, seconds, self.stopping))
        self.costs.append(time.monotonic() - began)


def _plain(value: Any) -> Any:
    """A JSON-able form of early stopping's numbers (its best is a NumPy scalar, or
    None before its first epoch)."""
    return value.item() if isinstance(value, np.generic) else value
