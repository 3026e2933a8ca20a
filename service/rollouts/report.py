"""An alias's report, from the counters every API process added up: per model (its
targets, its shadow, and models it used before), traffic, errors, latency, what it
predicted, agreement with the primary and accuracy (or mean absolute error) on the
outcomes fed back; then the best candidate tested against the primary."""

from __future__ import annotations

import math
from typing import Any

from service.rollouts import stats
from service.rollouts.shadow import SHADOW
from service.rollouts.traffic import TARGET
from service.store.aliases import Alias
from service.store.rollouts import Counters


def build(alias: Alias, counters: dict[tuple[str, str], Counters]) -> dict[str, Any]:
    route = alias.route
    total = sum(t.weight for t in route.targets)
    members = []
    for target in route.targets:
        found = counters.get((TARGET, target.job_id), {})
        members.append(
            _member(TARGET, target.job_id, found, current=True, weight=target.weight)
            | {"share": target.weight / total, "primary": target.job_id == route.primary}
        )
    if route.shadow is not None:
        found = counters.get((SHADOW, route.shadow.job_id), {})
        members.append(
            _member(SHADOW, route.shadow.job_id, found, current=True)
            | {"percent": route.shadow.percent}
        )
    current = {(m["role"], m["job_id"]) for m in members}
    for (role, job_id), found in sorted(counters.items()):
        if (role, job_id) not in current:
            members.append(_member(role, job_id, found, current=False))
    return {
        "alias": alias.name,
        "primary": route.primary,
        "models": members,
        "comparison": _comparison(route.primary, members, counters),
    }


def _member(
    role: str, job_id: str, found: Counters, current: bool, weight: int | None = None
) -> dict[str, Any]:
    requests = int(found.get("requests", 0))
    errors = int(found.get("errors", 0))
    buckets = {int(k): v for k, v in _by_prefix(found, "latency:").items()}
    member: dict[str, Any] = {
        "job_id": job_id,
        "role": role,
        "current": current,
        "requests": requests,
        "errors": errors,
        "error_rate": errors / requests if requests else None,
        "statuses": {k: int(v) for k, v in _by_prefix(found, "status:").items()},
        "latency_ms": {
            "p50": _ms(stats.percentile(buckets, 0.5)),
            "p99": _ms(stats.percentile(buckets, 0.99)),
        },
        "predictions": _predictions(found),
        "agreement": _agreement(found) if role == SHADOW else None,
        "outcomes": _outcomes(found),
    }
    if weight is not None:
        member["weight"] = weight
    if role == SHADOW:
        member["dropped"] = int(found.get("dropped", 0))
    return member


def _predictions(found: Counters) -> dict[str, Any] | None:
    classes = _by_prefix(found, "class:")
    if classes:
        rows = sum(classes.values())
        return {"rows": int(rows), "classes": {k: v / rows for k, v in sorted(classes.items())}}
    n = found.get("values", 0)
    if not n:
        return None
    mean = found["values_sum"] / n
    variance = max(0.0, found["values_sumsq"] / n - mean * mean)
    return {"outputs": int(n), "mean": mean, "std": math.sqrt(variance)}


def _agreement(found: Counters) -> dict[str, Any] | None:
    compared = found.get("compared", 0)
    if not compared:
        return None
    if "abs_difference_sum" in found:
        return {
            "rows": int(compared),
            "mean_abs_difference": found["abs_difference_sum"] / compared,
        }
    return {"rows": int(compared), "rate": found.get("agreed", 0) / compared}


def _outcomes(found: Counters) -> dict[str, Any] | None:
    n = found.get("outcomes", 0)
    if not n:
        return None
    if "correct" in found:
        low, high = stats.wilson(found["correct"], n)
        return {"count": int(n), "accuracy": found["correct"] / n, "ci95": [low, high]}
    interval = stats.mean_interval(found["error_sum"], found["error_sumsq"], n)
    return {
        "count": int(n),
        "mae": found["error_sum"] / n,
        "ci95": list(interval) if interval else None,
    }


def _comparison(
    primary: str, members: list[dict[str, Any]], counters: dict[tuple[str, str], Counters]
) -> dict[str, Any] | None:
    """The best current candidate with outcomes against the primary, or None when the
    alias has no candidate."""
    candidates = [m for m in members if m["current"] and m["job_id"] != primary]
    if not candidates:
        return None
    base = counters.get((TARGET, primary), {})
    scored = [m for m in candidates if m["outcomes"]]
    classifier = "correct" in base or any("accuracy" in m["outcomes"] for m in scored)
    metric = "accuracy" if classifier else "mae"
    if scored:
        best = (max if classifier else min)(scored, key=lambda m: m["outcomes"][metric])
    else:
        best = candidates[0]
    theirs = counters.get((best["role"], best["job_id"]), {})
    if classifier:
        result = stats.compare_accuracy(
            base.get("correct", 0),
            base.get("outcomes", 0),
            theirs.get("correct", 0),
            theirs.get("outcomes", 0),
        )
    else:
        result = stats.compare_errors(_errors(base), _errors(theirs))
    return {
        "primary": primary,
        "candidate": best["job_id"],
        "candidate_role": best["role"],
        "metric": metric,
        "test": result.test,
        "p_value": result.p_value,
        "difference": result.difference,
        "verdict": result.verdict,
        "more_outcomes_needed": result.more_outcomes_needed,
        "summary": _summary(primary, best, base, theirs, metric, result),
    }


def _summary(
    primary: str,
    best: dict[str, Any],
    base: Counters,
    theirs: Counters,
    metric: str,
    result: stats.Comparison,
) -> str:
    name, them = best["job_id"][:8], primary[:8]
    if result.p_value is None:
        return (
            f"No difference yet: outcomes of both are needed ({int(base.get('outcomes', 0))} "
            f"fed back for {them}, {int(theirs.get('outcomes', 0))} for {name})."
        )
    values = f"{metric} {_metric(theirs, metric):.4g} against {_metric(base, metric):.4g}"
    odds = f"p = {result.p_value:.2g}"
    if result.verdict != "undecided":
        return f"{name} {result.verdict} than {them}: {values} ({odds})."
    if result.more_outcomes_needed is None:
        return f"No difference yet: the same {metric} on both ({values}, {odds})."
    return (
        f"No difference yet: {result.more_outcomes_needed} more outcomes needed at this "
        f"effect size ({values}, {odds})."
    )


def _metric(found: Counters, metric: str) -> float:
    n = found.get("outcomes", 0) or 1
    return (found.get("correct", 0) if metric == "accuracy" else found.get("error_sum", 0)) / n


def _errors(found: Counters) -> tuple[float, float, float]:
    return found.get("outcomes", 0), found.get("error_sum", 0), found.get("error_sumsq", 0)


def _by_prefix(found: Counters, prefix: str) -> dict[str, float]:
    return {k[len(prefix) :]: v for k, v in found.items() if k.startswith(prefix)}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
