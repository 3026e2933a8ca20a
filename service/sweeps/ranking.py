"""How a sweep's trials compare: by objective, in the sweep's direction."""

from __future__ import annotations

from typing import Any


def better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "maximize" else a < b


def leaderboard(trials: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
    """Finished trials by objective (best first), then pruned ones by objective, then
    the rest by number."""
    sign = -1 if direction == "maximize" else 1

    def rank(trial: dict[str, Any]) -> tuple[int, float, int]:
        scored = trial.get("objective") is not None
        group = {"finished": 0, "pruned": 1}.get(trial["status"], 2) if scored else 2
        return group, sign * trial["objective"] if scored else 0.0, trial["number"]

    return sorted(trials, key=rank)


def best_trial(trials: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    """The finished trial with the best objective, if any."""
    finished = [t for t in trials if t["status"] == "finished" and t.get("objective") is not None]
    return leaderboard(finished, direction)[0] if finished else None
