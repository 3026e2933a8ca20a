"""The fit stops between batches when asked, raising the reason and reporting no
partial epoch (real Keras training on a small spec)."""

from __future__ import annotations

import itertools
import time

import pytest

from service.errors import JobCanceled, TrainingTimedOut
from service.ml.training import train
from service.schemas.spec import load_spec
from tests.helpers import example


def small_spec(epochs: int) -> dict:
    raw = example("sum_of_two")
    raw["fit"].update(epochs=epochs, batch_size=8)
    return load_spec(raw)


def test_a_stop_reason_ends_the_fit_and_is_raised() -> None:
    reported: list[int] = []
    started = time.monotonic()

    def stop_after_two_epochs() -> JobCanceled | None:
        return JobCanceled("Canceled on request.") if len(reported) >= 2 else None

    with pytest.raises(JobCanceled):
        train(
            small_spec(epochs=200),
            on_epoch=lambda epoch, logs: reported.append(epoch),
            should_stop=stop_after_two_epochs,
        )
    # Stopped during the third epoch, which is not reported: it did not finish.
    assert reported == [1, 2]
    assert time.monotonic() - started < 30


def test_the_check_is_asked_at_most_ten_times_a_second() -> None:
    asked: list[float] = []

    def never() -> None:
        asked.append(time.monotonic())

    result = train(small_spec(epochs=10), should_stop=never)
    gaps = [b - a for a, b in itertools.pairwise(asked)]
    assert result.epochs_run == 10
    assert gaps
    assert min(gaps) >= 0.1


def test_a_deadline_reason_is_raised_as_is() -> None:
    reason = TrainingTimedOut("over fit.max_seconds")
    with pytest.raises(TrainingTimedOut, match=r"fit\.max_seconds"):
        train(small_spec(epochs=200), should_stop=lambda: reason)


def test_a_failure_in_the_worker_carries_keras_words_without_paths() -> None:
    from worker.tasks import failure

    error = ValueError(
        "Exception encountered when calling Dense.call().\n\n"
        "Input 0 of layer 'dense' is incompatible: expected axis -1 to have value 4, "
        'got 3 (File "/srv/app/.venv/lib/python3.11/site-packages/keras/layer.py", '
        "line 12)\n\nArguments received by Dense.call():\n  • inputs=tf.Tensor(...)"
    )
    detail = failure(error).detail
    assert detail.startswith("Training failed: Input 0 of layer 'dense' is incompatible")
    assert "/srv/app" not in detail
    assert "Arguments received" not in detail
    assert "log" not in detail
    assert "out of memory" in failure(MemoryError()).detail
