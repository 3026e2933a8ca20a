"""A sweep's search space: paths into a spec, distributions that fit their fields, the
corners checked before anything is queued, and how trials rank."""

from __future__ import annotations

from typing import Any

import pytest

from service.errors import InvalidSweep
from service.schemas.fields import load
from service.schemas.spec import load_spec
from service.schemas.sweeps import SweepRequestSchema
from service.sweeps.ranking import best_trial, leaderboard
from service.sweeps.space import apply, corners, dimensions, lookup, parse_path
from tests.helpers import example


def spec() -> dict[str, Any]:
    return load_spec(example("digits"))


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("model.layers[0].units", ("model", "layers", 0, "units")),
        ("fit.batch_size", ("fit", "batch_size")),
        ("x[1][2].y", ("x", 1, 2, "y")),
        ("model", ("model",)),
    ],
)
def test_a_path_is_read_as_json_writes_it(path: str, steps: tuple[Any, ...]) -> None:
    assert parse_path(path) == steps


@pytest.mark.parametrize("path", ["", ".x", "a..b", "a.[0]", "[0].a", "a[0]b", "a[x]", "a b"])
def test_a_malformed_path_is_none(path: str) -> None:
    assert parse_path(path) is None


def test_a_path_must_reach_an_existing_container_but_may_end_at_a_default() -> None:
    normalized = spec()
    assert lookup(normalized, ("fit", "batch_size")) == (True, 32, None)
    # An optimizer argument the spec leaves to Keras's default can still be searched.
    assert lookup(normalized, ("compile", "optimizer", "beta_1")) == (True, None, None)
    found, _, why = lookup(normalized, ("model", "layers", 7, "units"))
    assert not found
    assert "there is no item 7" in why
    found, _, why = lookup(normalized, ("fit", "batch_size", "x"))
    assert not found
    assert why == "fit.batch_size is not an object."


def _space(search: dict[str, Any]) -> list[Any]:
    body = {"spec": example("digits"), "search": search}
    return dimensions(load(SweepRequestSchema(), body)["search"], spec())[0]


def test_apply_sets_each_path_in_a_copy() -> None:
    base = spec()
    trial = apply(base, {"model.layers[0].units": 7, "fit.batch_size": 16})
    assert trial["model"]["layers"][0]["units"] == 7
    assert trial["fit"]["batch_size"] == 16
    assert base["model"]["layers"][0]["units"] == 512  # the sweep's spec is untouched


def test_corners_are_every_combination_of_the_extremes_when_few() -> None:
    space = _space(
        {
            "model.layers[0].units": {"int": [16, 64]},
            "fit.batch_size": {"choice": [16, 32, 64]},
        }
    )
    found = corners(space)
    assert len(found) == 6
    assert {"model.layers[0].units": 64, "fit.batch_size": 64} in found
    assert {"model.layers[0].units": 16, "fit.batch_size": 16} in found


def test_a_large_space_is_checked_at_both_extremes_and_each_value_against_the_top() -> None:
    search = {
        "model.layers[0].units": {"choice": [1, 2, 3]},
        "fit.batch_size": {"choice": list(range(1, 40))},
        "fit.epochs": {"int": [1, 5]},
    }
    space = _space(search)
    found = corners(space)
    assert len(found) < 3 * 39 * 2
    top = {"model.layers[0].units": 3, "fit.batch_size": 39, "fit.epochs": 5}
    assert top in found
    assert {**top, "fit.batch_size": 1} in found
    assert {"model.layers[0].units": 1, "fit.batch_size": 1, "fit.epochs": 1} in found


def test_distributions_are_refused_where_they_do_not_fit() -> None:
    body = {
        "spec": example("digits"),
        "search": {
            "compile.optimizer.learning_rate": {"int": [1, 3]},
            "model.layers[0].units": {"int": [64, 16]},
            "fit.batch_size": {"choice": [8], "log": True},
            "fit.epochs": {"int": [0, 5], "log": True},
        },
    }
    with pytest.raises(InvalidSweep) as refused:
        load(SweepRequestSchema(), body)
    errors = refused.value.errors
    assert "Expected [low, high]" in errors["search.model.layers[0].units.int"][0]
    assert "range can be log" in errors["search.fit.batch_size.log"][0]
    assert "log range needs low > 0" in errors["search.fit.epochs.int"][0]
    # The distributions are valid in themselves; this one does not fit its field.
    body["search"] = {"compile.optimizer.learning_rate": {"int": [1, 3]}}
    with pytest.raises(InvalidSweep) as refused:
        load(SweepRequestSchema(), body)
    assert (
        "int range does not fit"
        in refused.value.errors["search.compile.optimizer.learning_rate"][0]
    )


def test_a_grid_needs_discrete_values_and_at_least_the_trials_asked_for() -> None:
    body = {
        "spec": example("digits"),
        "search": {"fit.batch_size": {"choice": [16, 32]}, "fit.epochs": {"int": [2, 3]}},
        "sampler": "grid",
        "trials": 5,
    }
    with pytest.raises(InvalidSweep) as refused:
        load(SweepRequestSchema(), body)
    assert refused.value.errors == {
        "trials": ["The grid has 4 points; ask for at most that many trials."]
    }
    assert load(SweepRequestSchema(), {**body, "trials": 4})["parallel"] == 2


def test_parallel_is_never_more_than_the_trials() -> None:
    body = {"spec": example("digits"), "search": {"fit.batch_size": {"choice": [16, 32]}}}
    loaded = load(SweepRequestSchema(), {**body, "trials": 1, "parallel": 8})
    assert loaded["parallel"] == 1


def _trial(number: int, status: str, objective: float | None) -> dict[str, Any]:
    return {"number": number, "status": status, "objective": objective}


def test_the_leaderboard_ranks_finished_then_pruned_then_the_rest() -> None:
    trials = [
        _trial(0, "pruned", 0.9),
        _trial(1, "finished", 0.5),
        _trial(2, "failed", None),
        _trial(3, "finished", 0.7),
        _trial(4, "started", None),
        _trial(5, "pruned", 0.2),
    ]
    assert [t["number"] for t in leaderboard(trials, "maximize")] == [3, 1, 0, 5, 2, 4]
    assert [t["number"] for t in leaderboard(trials, "minimize")] == [1, 3, 5, 0, 2, 4]
    assert best_trial(trials, "maximize")["number"] == 3
    assert best_trial([_trial(0, "pruned", 0.9)], "maximize") is None
