"""Spec -> trained model: the training run itself (what the worker executes).

Specify the model, specify the loss, minimise it with gradient descent: build, compile,
fit (reporting each finished epoch), then evaluate on the held-out test split.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from service.errors import ServiceError, TrainingDiverged
from service.ml import warm_start
from service.ml.baseline import prior_loss
from service.ml.builder import adapt_normalization, build_model, compile_model
from service.ml.catalog import LOSSES, LossKind
from service.ml.checkpoints import Checkpointer, RestoreStopping, Resume, restore
from service.ml.classes import class_map
from service.ml.diagnosis import diagnose
from service.ml.preflight import load_data
from service.ml.summary import summarize
from service.ml.uploads import Table

EpochReport = Callable[[int, dict[str, float | None]], None]
CHECK_ROWS = 256  # held-out rows a model's ONNX form is checked on
# Asked between batches whether to end the fit; returns why (the error the run then
# raises: canceled, out of time) or None to go on.
StopCheck = Callable[[], ServiceError | None]
# Stores a checkpoint (bytes), whole or not at all.
CheckpointWriter = Callable[[bytes], None]


@dataclass
class TrainingResult:
    model: keras.Model
    history: dict[str, list[float | None]]
    metrics: dict[str, float | None]
    evaluated_on: str  # "test", or "train" when the spec holds out no test rows
    epochs_run: int
    best_epoch: int | None  # 1-based epoch whose weights were kept, with early stopping
    summary: dict[str, Any]
    classes: dict[str, Any] | None  # how outputs map to class labels (classifiers only)
    seconds: float  # fitting and evaluating, over every attempt of the job
    diagnosis: dict[str, Any] | None = None  # what the curves say (service.ml.diagnosis)
    # Rows the model never trained on (the test split, when there is one), to check
    # its ONNX form against (service.ml.conversion).
    check_rows: np.ndarray | None = None
    checkpoint_seconds: list[float] | None = None  # what each checkpoint cost

    def report(self) -> dict[str, Any]:
        """The JSON-able outcome (everything but the model)."""
        return {
            "metrics": self.metrics,
            "evaluated_on": self.evaluated_on,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "seconds": round(self.seconds, 3),
        }


def train(
    spec: dict[str, Any],
    on_epoch: EpochReport | None = None,
    should_stop: StopCheck | None = None,
    uploaded: Table | None = None,
    resume: Resume | None = None,
    write_checkpoint: CheckpointWriter | None = None,
    init_model: keras.Model | None = None,
) -> TrainingResult:
    """Train the model a normalized spec describes (checked by service.ml.preflight
    before it was queued: nothing is checked again here); `on_epoch(epoch, logs)` is called
    after each finished epoch (1-based) with its loss and metrics, and `should_stop()`
    between batches (raising what it returns, before anything is evaluated or kept).
    `uploaded` is the table of the spec's `data.dataset_id`, if it names one.

    With `write_checkpoint`, a checkpoint goes to it every `fit.checkpoint_every`
    epochs; with `resume` (a checkpoint read back), the fit goes on after its epoch
    with its weights, optimizer state, early stopping's state and history. With
    `init_model` (the model of the spec's `init_from`, checked before queueing), the
    fit starts from its weights (service.ml.warm_start)."""
    started = time.perf_counter() - (resume.fit_seconds if resume else 0.0)
    fit = spec["fit"]
    keras.utils.set_random_seed(fit["seed"])  # weights, dropout and shuffling
    dataset = load_data(spec, uploaded, checked=False)  # checked before it was queued
    model = build_model(spec["model"])
    output_shape = tuple(model.output_shape[1:])
    adapt_normalization(model, dataset.train.x)
    if init_model is not None:
        copied = warm_start.plan(
            spec["init_from"],
            warm_start.weight_shapes(model),
            warm_start.weight_shapes(init_model),
            [layer.name for layer in model.layers],
        )[0]
        warm_start.copy_weights(model, init_model, copied)
    if spec.get("init_from"):  # frozen on every attempt: a checkpoint holds no flags
        warm_start.freeze(model, spec["init_from"]["freeze"])
    compile_model(model, spec["compile"])
    if resume is not None:  # a later attempt: the checkpoint has the warm start in it
        restore(model, resume)

    kind = LOSSES[spec["compile"]["loss"]["type"]].kind
    guard = DivergenceGuard()
    stopper = Stopper(should_stop or (lambda: None))
    callbacks: list[keras.callbacks.Callback] = [stopper, guard]
    if on_epoch is not None:
        callbacks.append(_EpochReporter(on_epoch, stopper))
    stopping = None
    if fit["early_stopping"]:
        stopping = keras.callbacks.EarlyStopping(**fit["early_stopping"])
        callbacks.append(stopping)
        if resume is not None:
            callbacks.append(RestoreStopping(stopping, resume))
    checkpointer = None
    if write_checkpoint is not None and fit["checkpoint_every"]:
        checkpointer = Checkpointer(
            fit["checkpoint_every"],
            write_checkpoint,
            resume.history if resume else {},
            resume.fit_seconds if resume else 0.0,
            stopping,
            skip=lambda: stopper.reason is not None or guard.diverged_at is not None,
            clean=finite_or_none,
        )
        callbacks.append(checkpointer)
    validation = dataset.validation
    history = model.fit(
        dataset.train.x,
        targets(dataset.train.y, output_shape, kind),
        epochs=fit["epochs"],
        batch_size=fit["batch_size"],
        validation_split=0.0 if validation else fit["validation_split"],
        validation_data=(validation.x, targets(validation.y, output_shape, kind))
        if validation
        else None,
        shuffle=fit["shuffle"],
        callbacks=callbacks,
        verbose=0,
        initial_epoch=resume.epoch if resume else 0,
    ).history
    if stopper.reason is not None:
        raise stopper.reason
    if guard.diverged_at is not None:
        raise TrainingDiverged(
            f"The loss became NaN or infinite at epoch {guard.diverged_at}, so training "
            "stopped. Try a smaller learning rate, or scale the inputs (a Normalization "
            "layer first does it for you)."
        )
    evaluated_on, held_out = ("test", dataset.test) if dataset.test else ("train", dataset.train)
    metrics = model.evaluate(
        held_out.x,
        targets(held_out.y, output_shape, kind),
        batch_size=fit["batch_size"],
        verbose=0,
        return_dict=True,
    )
    best_epoch = None
    if stopping is not None and stopping.restore_best_weights and stopping.best_weights:
        best_epoch = stopping.best_epoch + 1
    clean = {name: [finite_or_none(v) for v in values] for name, values in history.items()}
    if resume is not None:  # the epochs of earlier attempts, then this one's
        clean = {
            name: [*resume.history.get(name, []), *clean.get(name, [])]
            for name in dict.fromkeys([*resume.history, *clean])
        }
    baseline = prior_loss(spec["compile"]["loss"], dataset.train.y)
    return TrainingResult(
        model=model,
        history=clean,
        metrics={name: finite_or_none(v) for name, v in metrics.items()},
        evaluated_on=evaluated_on,
        epochs_run=len(clean.get("loss", [])),
        best_epoch=best_epoch,
        summary=summarize(model),
        classes=class_map(spec["compile"]["loss"], output_shape, dataset.class_names),
        seconds=time.perf_counter() - started,
        diagnosis=diagnose(clean, baseline_loss=baseline, kept_epoch=best_epoch),
        check_rows=held_out.x[:CHECK_ROWS].astype(np.float32),
        checkpoint_seconds=checkpointer.costs if checkpointer else None,
    )


def targets(y: np.ndarray, output_shape: tuple[int, ...], kind: LossKind) -> np.ndarray:
    """Labels shaped like the model's output: a flat target list becomes a column for a
    one-unit output, so losses never broadcast (n,) against (n, 1)."""
    if kind is not LossKind.SPARSE and y.ndim == 1 and output_shape == (1,):
        return y.reshape(-1, 1)
    return y


def finite_or_none(value: Any) -> float | None:
    """A JSON-safe number: NaN and infinities (a diverged loss) become null."""
    number = float(value)
    return number if math.isfinite(number) else None


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the end of the first epoch whose loss is not finite."""

    def __init__(self) -> None:
        super().__init__()
        self.diverged_at: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged_at = epoch + 1
            self.model.stop_training = True


class Stopper(keras.callbacks.Callback):
    """Ends the fit after the batch during which `should_stop()` gave a reason.

    Asked at most every `interval_s` (it may cost a Redis round trip), so a cancel or a
    deadline takes effect within about that plus one batch.
    """

    def __init__(self, should_stop: StopCheck, interval_s: float = 0.1) -> None:
        super().__init__()
        self._should_stop = should_stop
        self._interval_s = interval_s
        self._asked_at = -math.inf
        self.reason: ServiceError | None = None

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        if self.reason is not None or now - self._asked_at < self._interval_s:
            return
        self._asked_at = now
        self.reason = self._should_stop()
        if self.reason is not None:
            self.model.stop_training = True


class _EpochReporter(keras.callbacks.Callback):
    def __init__(self, report: EpochReport, stopper: Stopper) -> None:
        super().__init__()
        self._report = report
        self._stopper = stopper

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._stopper.reason is not None:
            return  # a stopped epoch is partial: not one to report
        self._report(epoch + 1, {k: finite_or_none(v) for k, v in (logs or {}).items()})
