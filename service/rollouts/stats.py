"""The statistics of a rollout, from counters that any number of processes add up:
latency percentiles from log-spaced buckets, confidence intervals of accuracy and mean
error, the test of a candidate against the primary, and how many more outcomes would
settle it. Pure functions; scipy for the t distribution."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Latency buckets: bucket i holds (BASE * RATIO**(i-1), BASE * RATIO**i] seconds, so a
# percentile read from them is within ~12 % of the true value, from 0.1 ms to 60 s.
BASE_S, RATIO, BUCKETS = 1e-4, 1.25, 61
ALPHA, POWER = 0.05, 0.8  # a two-sided test at 5 %, and the power "outcomes needed" aims at
_Z_ALPHA, _Z_POWER = 1.959963984540054, 0.8416212335729143


def latency_bucket(seconds: float) -> int:
    """The bucket a latency falls in (the last one holds everything slower)."""
    if seconds <= BASE_S:
        return 0
    return min(BUCKETS - 1, math.ceil(math.log(seconds / BASE_S, RATIO) - 1e-9))


def percentile(buckets: dict[int, float], q: float) -> float | None:
    """The q-quantile (0..1) of the latencies counted in `buckets`, in seconds: the
    geometric middle of the bucket it falls in; None without any."""
    total = sum(buckets.values())
    if total == 0:
        return None
    rank, seen = q * total, 0.0
    for index in sorted(buckets):
        seen += buckets[index]
        if seen >= rank:
            break
    if index == 0:
        return BASE_S
    return BASE_S * RATIO ** (index - 0.5)


def wilson(successes: float, n: float) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (sound near 0 and 1, and for small n)."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = successes / n, _Z_ALPHA**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z_ALPHA * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(total: float, total_sq: float, n: float) -> tuple[float, float] | None:
    """95 % t interval of a mean from its count, sum and sum of squares."""
    if n < 2:
        return None
    from scipy import stats

    mean, sd = total / n, _sd(total, total_sq, n)
    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True)
class Comparison:
    """A candidate against the primary: the test, its p-value, the candidate's
    difference (positive: better), the verdict and the outcomes still needed."""

    test: str
    p_value: float | None
    difference: float
    verdict: str  # "better", "worse" or "undecided"
    more_outcomes_needed: int | None


def compare_accuracy(
    primary_correct: float, primary_n: float, candidate_correct: float, candidate_n: float
) -> Comparison:
    """Two-proportion z-test (pooled) of the candidate's accuracy against the primary's."""
    test = "two-proportion z-test"
    if primary_n == 0 or candidate_n == 0:
        return Comparison(test, None, 0.0, "undecided", None)
    p1, p2 = primary_correct / primary_n, candidate_correct / candidate_n
    pooled = (primary_correct + candidate_correct) / (primary_n + candidate_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / primary_n + 1 / candidate_n))
    # All right or all wrong on both sides (se 0): nothing tells them apart.
    p_value = 1.0 if se == 0 else math.erfc(abs(p2 - p1) / se / math.sqrt(2))
    needed = _proportions_needed(p1, p2)
    return _settle(test, p_value, p2 - p1, needed, primary_n, candidate_n)


def compare_errors(
    primary: tuple[float, float, float], candidate: tuple[float, float, float]
) -> Comparison:
    """Welch's t-test of the candidate's mean absolute error against the primary's, each
    given as (count, sum, sum of squares) of the errors; lower error is better."""
    test = "Welch t-test"
    (n1, s1, q1), (n2, s2, q2) = primary, candidate
    if n1 < 2 or n2 < 2:
        return Comparison(test, None, 0.0, "undecided", None)
    from scipy import stats

    m1, m2, sd1, sd2 = s1 / n1, s2 / n2, _sd(s1, q1, n1), _sd(s2, q2, n2)
    difference = m1 - m2  # positive: the candidate errs less
    if sd1 == 0 and sd2 == 0:
        p_value = 1.0 if difference == 0 else 0.0
    else:
        p_value = float(stats.ttest_ind_from_stats(m1, sd1, n1, m2, sd2, n2, equal_var=False)[1])
    variance = (sd1**2 + sd2**2) / 2
    needed = (
        math.ceil(2 * (_Z_ALPHA + _Z_POWER) ** 2 * variance / difference**2) if difference else None
    )
    return _settle(test, p_value, difference, needed, n1, n2)


def _settle(
    test: str,
    p_value: float,
    difference: float,
    needed_per_side: int | None,
    n1: float,
    n2: float,
) -> Comparison:
    if p_value < ALPHA and difference != 0:
        return Comparison(test, p_value, difference, "better" if difference > 0 else "worse", 0)
    more = None
    if needed_per_side is not None:
        more = max(0, needed_per_side - int(n1)) + max(0, needed_per_side - int(n2))
    return Comparison(test, p_value, difference, "undecided", more)


def _proportions_needed(p1: float, p2: float) -> int | None:
    """Outcomes per side for a two-sided test at ALPHA to detect p2 - p1 with POWER."""
    if p1 == p2:
        return None
    mean = (p1 + p2) / 2
    root = _Z_ALPHA * math.sqrt(2 * mean * (1 - mean)) + _Z_POWER * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(root**2 / (p1 - p2) ** 2)


def _sd(total: float, total_sq: float, n: float) -> float:
    """Sample standard deviation from count, sum and sum of squares."""
    if n < 2:
        return 0.0
    return math.sqrt(max(0.0, (total_sq - total * total / n) / (n - 1)))
