"""diagnose(): synthetic histories of each kind, and the edge cases between them."""

from __future__ import annotations

import math

import pytest

from service.ml.diagnosis import KINDS, diagnose

FALLING = [1.0, 0.6, 0.4, 0.3, 0.25, 0.22, 0.2, 0.19]
VAL_FALLING = [1.1, 0.7, 0.5, 0.4, 0.35, 0.33, 0.32, 0.31]
# Validation at its lowest at epoch 4, then up 50 % by epoch 8 while training falls.
VAL_TURNING = [1.1, 0.7, 0.5, 0.4, 0.42, 0.46, 0.52, 0.6]


def test_a_run_whose_losses_fall_is_ok() -> None:
    found = diagnose({"loss": FALLING, "val_loss": VAL_FALLING}, baseline_loss=2.3)
    assert found["kind"] == "ok"
    assert "nothing to change" in found["hint"]


def test_every_diagnosis_has_a_known_kind_and_a_one_line_hint() -> None:
    histories = [
        {"loss": FALLING},
        {"loss": [1.0, None]},
        {"loss": [1.0, 1.0, 1.0]},
        {"loss": FALLING, "val_loss": VAL_TURNING},
        {"loss": [2.2, 2.1, 2.1, 2.1]},
    ]
    for history in histories:
        found = diagnose(history, baseline_loss=2.3)
        assert found["kind"] in KINDS
        assert found["hint"]
        assert "\n" not in found["hint"]


def test_without_validation_ok_says_overfitting_cannot_be_seen() -> None:
    found = diagnose({"loss": FALLING})
    assert found["kind"] == "ok"
    assert "validation_split" in found["hint"]


@pytest.mark.parametrize(
    "history", [{}, {"loss": []}, {"loss": [0.7]}, {"loss": [0.7], "val_loss": [0.8]}]
)
def test_fewer_than_two_epochs_are_too_few_to_judge(history: dict) -> None:
    found = diagnose(history, baseline_loss=0.69)
    assert found["kind"] == "ok"
    assert "too few epochs" in found["hint"].lower()


@pytest.mark.parametrize(
    ("history", "epoch"),
    [
        ({"loss": [1.0, 0.5, None]}, 3),
        ({"loss": [None]}, 1),
        ({"loss": [1.0, math.nan]}, 2),
        ({"loss": [1.0, 0.5, 0.4], "val_loss": [1.0, None, 0.5]}, 2),
        ({"loss": [1.0, 3.0, 40.0, 900.0]}, 3),  # exploding: past 10x the first at epoch 3
    ],
)
def test_non_finite_or_exploding_losses_diverged(history: dict, epoch: int) -> None:
    found = diagnose(history)
    assert found["kind"] == "diverged"
    assert found["epoch"] == epoch
    assert "learning rate" in found["hint"]


@pytest.mark.parametrize(
    "loss",
    [
        [2.3026, 2.3025, 2.3026, 2.3024],  # flat
        [0.7, 0.8, 1.2, 2.5],  # rising from the start, but not tenfold
    ],
)
def test_a_loss_flat_or_rising_from_the_start_is_not_learning(loss: list[float]) -> None:
    found = diagnose({"loss": loss, "val_loss": loss}, baseline_loss=2.3)
    assert found["kind"] == "not_learning"
    assert found["first_loss"] == loss[0]
    assert "learning rate" in found["hint"]
    assert "scaled" in found["hint"]


def test_flat_after_learning_everything_in_epoch_one_is_not_not_learning() -> None:
    found = diagnose({"loss": [0.01, 0.01, 0.0099]}, baseline_loss=0.69)
    assert found["kind"] == "ok"


def test_flat_with_no_baseline_is_not_learning() -> None:
    assert diagnose({"loss": [5.0, 5.0, 4.99]})["kind"] == "not_learning"


def test_validation_rising_while_training_falls_is_overfitting() -> None:
    found = diagnose({"loss": FALLING, "val_loss": VAL_TURNING}, baseline_loss=2.3)
    assert found["kind"] == "overfitting"
    assert found["best_epoch"] == 4
    assert found["began_at_epoch"] == 5
    assert found["epochs_past_best"] == 4
    assert found["val_loss_excess"] == pytest.approx(0.2)
    assert "epoch 4" in found["hint"]
    assert "early stopping" in found["hint"]


def test_early_stopping_that_kept_the_best_epoch_is_ok() -> None:
    history = {"loss": FALLING, "val_loss": VAL_TURNING}
    found = diagnose(history, baseline_loss=2.3, kept_epoch=4)
    assert found["kind"] == "ok"
    assert "kept epoch 4" in found["hint"]


def test_a_one_epoch_rise_is_noise_not_overfitting() -> None:
    val = [1.1, 0.7, 0.5, 0.4, 0.35, 0.33, 0.32, 0.45]
    assert diagnose({"loss": FALLING, "val_loss": val})["kind"] == "ok"


def test_a_rise_under_ten_percent_is_noise_not_overfitting() -> None:
    val = [1.1, 0.7, 0.5, 0.4, 0.41, 0.42, 0.43, 0.43]
    assert diagnose({"loss": FALLING, "val_loss": val})["kind"] == "ok"


def test_validation_rising_with_training_is_not_overfitting() -> None:
    loss = [1.0, 0.6, 0.4, 0.3, 0.35, 0.4, 0.5, 0.6]
    assert diagnose({"loss": loss, "val_loss": VAL_TURNING})["kind"] != "overfitting"


def test_losses_high_and_flat_against_the_prior_are_underfitting() -> None:
    loss = [2.25, 2.0, 1.8, 1.7, 1.69, 1.69, 1.688]  # 73 % of ln(10), levelled off
    val = [2.2, 2.0, 1.85, 1.75, 1.74, 1.74, 1.74]
    found = diagnose({"loss": loss, "val_loss": val}, baseline_loss=math.log(10))
    assert found["kind"] == "underfitting"
    assert found["still_falling"] is False
    assert found["loss_to_baseline"] == pytest.approx(1.688 / math.log(10))
    assert "capacity" in found["hint"]


def test_high_and_still_falling_is_underfitting_that_more_epochs_fix() -> None:
    loss = [2.3, 2.1, 1.9, 1.7, 1.5]
    found = diagnose({"loss": loss}, baseline_loss=math.log(10))
    assert found["kind"] == "underfitting"
    assert found["still_falling"] is True
    assert "more epochs" in found["hint"]


def test_underfitting_needs_a_baseline() -> None:
    assert diagnose({"loss": [2.3, 2.1, 1.9, 1.7, 1.5]})["kind"] == "ok"


def test_a_low_validation_loss_is_not_underfitting() -> None:
    # Dropout inflates the training loss; the validation loss shows the model fits.
    loss = [2.3, 2.0, 1.8, 1.7, 1.7]
    val = [1.0, 0.6, 0.5, 0.45, 0.44]
    assert diagnose({"loss": loss, "val_loss": val}, baseline_loss=2.3)["kind"] == "ok"


def test_metrics_other_than_loss_are_ignored() -> None:
    history = {"loss": FALLING, "accuracy": [None] * 8, "val_loss": VAL_FALLING}
    assert diagnose(history)["kind"] == "ok"


def test_a_validation_series_of_another_length_is_ignored() -> None:
    assert diagnose({"loss": FALLING, "val_loss": VAL_TURNING[:3]})["kind"] == "ok"
