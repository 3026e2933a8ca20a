"""The statistics of a rollout, against scipy's own tests and known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from service.rollouts import stats
from service.rollouts.outcomes import Outcome, agreement, check_labels, feedback
from service.rollouts.routing import Route, Shadow, Target


def test_two_proportion_test_matches_the_chi_square_test_of_the_same_table() -> None:
    result = stats.compare_accuracy(60, 100, 80, 100)
    chi2 = scipy_stats.chi2_contingency([[60, 40], [80, 20]], correction=False)
    assert result.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    assert result.verdict == "better"
    assert result.difference == pytest.approx(0.2)


def test_a_small_difference_on_few_outcomes_is_undecided_with_outcomes_needed() -> None:
    result = stats.compare_accuracy(30, 40, 33, 40)
    assert result.verdict == "undecided"
    # Fleiss's sample size for 0.75 vs 0.825 at 5 % two-sided and 80 % power:
    # (1.96 * sqrt(2 * 0.7875 * 0.2125) + 0.8416 * sqrt(0.1875 + 0.144375))^2 / 0.075^2
    # = 465.8, so 466 a side, of which 40 are in.
    assert result.more_outcomes_needed == 2 * (466 - 40)


def test_welch_test_matches_scipy_on_raw_errors() -> None:
    rng = np.random.default_rng(0)
    primary, candidate = rng.exponential(1.0, 300), rng.exponential(0.7, 300)
    summary = [(len(e), e.sum(), (e**2).sum()) for e in (primary, candidate)]
    result = stats.compare_errors(*summary)
    expected = scipy_stats.ttest_ind(primary, candidate, equal_var=False).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-9)
    assert result.verdict == "better"  # lower error


def test_wilson_interval_holds_the_proportion_and_stays_in_range() -> None:
    low, high = stats.wilson(0, 10)
    assert low == 0
    assert 0.2 < high < 0.35
    low, high = stats.wilson(90, 100)
    assert low < 0.9 < high


def test_latency_percentiles_come_within_an_eighth_of_the_true_value() -> None:
    latencies = np.random.default_rng(1).lognormal(math.log(0.003), 0.5, 10_000)
    buckets: dict[int, float] = {}
    for seconds in latencies:
        index = stats.latency_bucket(float(seconds))
        buckets[index] = buckets.get(index, 0) + 1
    for q in (0.5, 0.99):
        assert stats.percentile(buckets, q) == pytest.approx(np.quantile(latencies, q), rel=0.125)


def test_weights_split_requests_and_a_key_keeps_its_target() -> None:
    route = Route((Target("a", 80), Target("b", 20)))
    picks = [route.pick() for _ in range(20_000)]
    assert abs(picks.count("a") / 20_000 - 0.8) < 0.02
    assert {route.pick("user-7") for _ in range(50)} == {route.pick("user-7")}
    # Moving 10 points of weight moves only keys in that part of the range.
    moved = Route((Target("a", 70), Target("b", 30)))
    keys = [f"user-{i}" for i in range(2_000)]
    changed = sum(route.pick(k) != moved.pick(k) for k in keys) / len(keys)
    assert 0.05 < changed < 0.15
    assert all(moved.pick(k) == "b" for k in keys if route.pick(k) == "b")


def test_a_setting_round_trips_through_its_document_and_reads_the_first_form() -> None:
    route = Route((Target("a", 3), Target("b", 5)), Shadow("c", 12.5))
    assert Route.of(route.document()) == route
    assert route.primary == "b"
    assert route.job_ids == {"a", "b", "c"}
    assert Route.of({"job_id": "a", "updated_at": "2026-01-01T00:00:00Z"}).primary == "a"


def test_outcomes_score_classes_and_values() -> None:
    classes = Outcome("classes", ["3", "7", "1"])
    assert feedback(classes, [3, "7", 2]) == {"outcomes": 3, "correct": 2}
    assert agreement(classes, Outcome("classes", ["3", "1", "1"])) == {"compared": 3, "agreed": 2}
    assert "one label per predicted row" in check_labels(classes, [3])
    assert check_labels(classes, [True, 1, 2]) is not None
    values = Outcome("values", [[1.0], [2.0]])
    scored = feedback(values, [2.0, [2.5]])
    assert scored["error_sum"] == pytest.approx(1.5)
    assert check_labels(values, [1.0, "x"]) is not None
