"""History -> diagnosis: what a training run's curves say, in the classic vocabulary of
training advice, with a one-line hint on what to change.

Pure Python on the per-epoch history Keras logs (`loss`, `val_loss`, ...; None where a
value was NaN or infinite), so the worker computes it once and the API only shows it.
The checks run in order and the first that fits names the run:

- `diverged`: a loss became NaN or infinite, or the last training loss is EXPLODED times
  the first;
- `not_learning`: the training loss never got MIN_IMPROVEMENT below its first epoch's
  (flat or rising from the start), unless it stayed flat after a first epoch that
  already beat the prior (all learned at once);
- `overfitting`: validation loss rose OVERFIT_RISE above its best, OVERFIT_EPOCHS or
  more epochs before the kept weights, while the training loss went on falling;
- `underfitting`: training and validation losses are both HIGH relative to the prior
  (the loss of always predicting the training labels' mean or class frequencies);
- `ok`: none of these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

History = Mapping[str, Sequence[float | None]]

KINDS = ("diverged", "not_learning", "overfitting", "underfitting", "ok")
EXPLODED = 10.0  # a loss that ends ten times its start blew up: it was not noise
# Below 1 % the "improvement" of the best epoch over the first is rounding and shuffling.
MIN_IMPROVEMENT = 0.01
# Validation noise on a few hundred rows moves val_loss by a few percent from epoch to
# epoch; a 10 % rise sustained over two epochs is a trend, not a blip.
OVERFIT_RISE = 0.10
OVERFIT_EPOCHS = 2
# "High": the model removed less than half of the loss of the best constant prediction
# (for cross-entropy, 1 - loss/prior is McFadden's pseudo-R2; for MSE, it is R2).
HIGH = 0.5
# Still falling by more than 1 % an epoch over the last epochs: more epochs would help.
FLAT = 0.01
RECENT_EPOCHS = 3


def diagnose(
    history: History, baseline_loss: float | None = None, kept_epoch: int | None = None
) -> dict[str, Any]:
    """The diagnosis of a run: {"kind", "hint", ...details}.

    `baseline_loss` is the training loss of the best constant prediction (see
    `service.ml.baseline`); without it underfitting cannot be judged. `kept_epoch` is
    the 1-based epoch whose weights the model kept (early stopping's best epoch); by
    default the last.
    """
    loss = list(history.get("loss", []))
    val = list(history.get("val_loss", []))
    for name, values in (("loss", loss), ("val_loss", val)):
        epoch = next((n for n, v in enumerate(values, 1) if not _finite(v)), None)
        if epoch is not None:
            return _diverged(epoch, f"{name} became NaN or infinite at epoch {epoch}")
    if loss and loss[0] > 0 and loss[-1] > EXPLODED * loss[0]:
        epoch = next(n for n, v in enumerate(loss, 1) if v > EXPLODED * loss[0])
        return _diverged(epoch, f"loss grew {loss[-1] / loss[0]:.3g}-fold from epoch 1")
    if len(loss) < 2:
        return {
            "kind": "ok",
            "hint": "Too few epochs to judge the curves: train for more epochs to diagnose.",
            "epochs": len(loss),
        }
    if len(val) != len(loss):
        val = []  # not one value per epoch (a caller's partial history): not comparable
    kept = min(kept_epoch or len(loss), len(loss))
    return (
        _not_learning(loss, baseline_loss)
        or (_overfitting(loss, val, kept) if val else None)
        or _underfitting(loss, val, kept, baseline_loss)
        or _ok(val, kept, len(loss))
    )


def _diverged(epoch: int, what: str) -> dict[str, Any]:
    return {
        "kind": "diverged",
        "hint": f"The {what}: lower the learning rate, scale the inputs (a Normalization "
        "layer first) or clip gradients (clipnorm).",
        "epoch": epoch,
    }


def _not_learning(loss: list[float], baseline: float | None) -> dict[str, Any] | None:
    first, best = loss[0], min(loss[1:])
    if first <= 0 or (first - best) / first >= MIN_IMPROVEMENT:
        return None
    rising = loss[-1] > first * (1 + MIN_IMPROVEMENT)
    if baseline is not None and first < HIGH * baseline and not rising:
        return None  # it learned within the first epoch and has little left to gain
    return {
        "kind": "not_learning",
        "hint": f"The training loss stayed at {first:.4g} or above (best {best:.4g}): "
        "check the learning rate (too small, or so large it bounces) and that the "
        "inputs are scaled (a Normalization layer first).",
        "first_loss": first,
        "best_loss": best,
        "baseline_loss": baseline,
    }


def _overfitting(loss: list[float], val: list[float], kept: int) -> dict[str, Any] | None:
    best = min(range(len(val)), key=val.__getitem__) + 1  # 1-based; the first minimum
    past = kept - best
    excess = val[kept - 1] - val[best - 1]
    if past < OVERFIT_EPOCHS or excess <= OVERFIT_RISE * val[best - 1]:
        return None
    if loss[kept - 1] >= loss[best - 1]:
        return None  # both rising is instability, not memorizing the training rows
    return {
        "kind": "overfitting",
        "hint": f"Validation loss was lowest at epoch {best} and then rose "
        f"{excess / val[best - 1]:.0%} over {past} epochs while the training loss fell: "
        "early stopping on val_loss with restore_best_weights would have kept epoch "
        f"{best}; more data, Dropout or a smaller model would help too.",
        "began_at_epoch": best + 1,
        "best_epoch": best,
        "best_val_loss": val[best - 1],
        "val_loss": val[kept - 1],
        "epochs_past_best": past,
        "val_loss_excess": excess,
    }


def _underfitting(
    loss: list[float], val: list[float], kept: int, baseline: float | None
) -> dict[str, Any] | None:
    if baseline is None or baseline <= 0:
        return None
    ratio = loss[kept - 1] / baseline
    if ratio < HIGH or (val and val[kept - 1] / baseline < HIGH):
        return None
    span = min(RECENT_EPOCHS, kept - 1)
    earlier = loss[kept - 1 - span]
    falling = span > 0 and earlier > 0 and (earlier - loss[kept - 1]) / earlier / span > FLAT
    advice = (
        "it is still falling: train for more epochs (or with a larger learning rate)"
        if falling
        else "it has levelled off: give the model more capacity (units, layers) or better features"
    )
    return {
        "kind": "underfitting",
        "hint": f"The training loss is {ratio:.0%} of what predicting the prior (the mean "
        f"or the class frequencies) scores; {advice}.",
        "loss_to_baseline": ratio,
        "baseline_loss": baseline,
        "still_falling": falling,
    }


def _ok(val: list[float], kept: int, epochs: int) -> dict[str, Any]:
    if not val:
        hint = (
            "The training loss fell; without validation data overfitting cannot be seen "
            "(set fit.validation_split to watch for it)."
        )
    elif kept < epochs and val[kept - 1] == min(val):
        hint = f"Early stopping kept epoch {kept}, the best on validation: nothing to change."
    else:
        hint = "The loss fell and validation loss did not rise: nothing to change."
    return {"kind": "ok", "hint": hint}


def _finite(value: float | None) -> bool:
    # The history holds None for NaN and infinities; a caller's raw floats may not.
    return value is not None and math.isfinite(value)
