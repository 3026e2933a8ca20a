"""Sweeps: what a search finds on digits, and what the median pruner saves.

Run by hand (`make bench`); prints a markdown table. It starts a private redis-server,
the real app (create_app, in this process) and 2 real worker processes (one thread per
TensorFlow pool, as scripts/run.sh runs them), then runs examples/digits_sweep.json (24
trials over units, learning rate, dropout and batch size; 30 epochs with early
stopping; TPE, seed 0) twice: with the median pruner and without (same seed and
sampler), and trains the hand-written digits recipe (examples/digits.json) as the bar.

Reported per run: the best trial's test accuracy (and its objective, val_loss),
epochs trained over all trials, trials pruned, wall time from POST to the sweep's end.
The machine (2 cores) is shared and noisy: compare within one run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.jobs import ONE_THREAD  # noqa: E402
from service.app import create_app  # noqa: E402
from service.config import Settings  # noqa: E402
from tests.helpers import example, free_port, start_redis, start_worker, stop  # noqa: E402

WORKERS = 2


def wait(client: Any, url: str, done: Any, timeout: float = 3600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.get(url).get_json()
        if done(found):
            return found
        time.sleep(0.5)
    raise TimeoutError(url)


def run_sweep(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    response = client.post("/v1/sweeps", json=body)
    assert response.status_code == 202, response.get_json()
    sweep = wait(client, response.headers["Location"], lambda s: s["ended_at"])
    seconds = time.monotonic() - started
    epochs = sum(t["epochs"] for t in sweep["leaderboard"])
    best = sweep["best"]
    return {
        "test_accuracy": best["metrics"]["accuracy"],
        "objective": best["objective"],
        "epochs": epochs,
        "pruned": sweep["counts"]["pruned"],
        "failed": sweep["counts"]["failed"],
        "seconds": seconds,
        "params": best["params"],
        "importance": sweep["importance"],
    }


def main() -> None:
    body = json.loads((ROOT / "examples/digits_sweep.json").read_text())
    body.pop("promote")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        (Path(tmp) / "redis").mkdir()
        redis = start_redis(Path(tmp) / "redis", port)
        settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", artifact_root=f"{tmp}/art")
        workers = [
            start_worker(settings, Path(tmp) / f"worker-{i}.log", env=ONE_THREAD)
            for i in range(WORKERS)
        ]
        try:
            client = create_app(settings).test_client()
            recipe = client.post("/v1/jobs", json=example("digits")).get_json()
            recipe = wait(client, f"/v1/jobs/{recipe['id']}", lambda j: j["ended_at"])
            runs = {
                "median pruner": run_sweep(client, body),
                "no pruner": run_sweep(client, {**body, "pruner": "none"}),
            }
        finally:
            for proc in (*workers, redis):
                stop(proc)
    report(recipe, runs, body)


def report(recipe: dict[str, Any], runs: dict[str, dict[str, Any]], body: dict[str, Any]) -> None:
    print(
        f"examples/digits_sweep.json: {body['trials']} trials, {body['parallel']} at once, "
        f"{WORKERS} workers, sampler {body['sampler']}, seed {body['seed']}\n"
    )
    metric = body["objective"]["metric"]
    kept = (recipe["result"]["best_epoch"] or 0) - 1  # early stopping's, else the last
    print(f"| run | best test accuracy | its {metric} | epochs trained | pruned | wall s |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| recipe (examples/digits.json, one job) | {recipe['metrics']['accuracy']:.4f} | "
        f"{recipe['history'][metric][kept]:.4f} | {recipe['result']['epochs_run']} | - | - |"
    )
    for name, run in runs.items():
        print(
            f"| sweep, {name} | {run['test_accuracy']:.4f} | {run['objective']:.4f} | "
            f"{run['epochs']} | {run['pruned']} | {run['seconds']:.0f} |"
        )
    pruned, plain = runs["median pruner"], runs["no pruner"]
    saved = 1 - pruned["epochs"] / plain["epochs"]
    lost = plain["test_accuracy"] - pruned["test_accuracy"]
    print()
    print(f"epochs saved by the pruner: {saved:.0%} (target >= 30%)")
    print(f"best test accuracy lost to pruning: {lost:+.4f} (target <= 0.005)")
    print(
        f"best sweep vs recipe: {max(r['test_accuracy'] for r in runs.values()):.4f} vs "
        f"{recipe['metrics']['accuracy']:.4f} (target: at least the recipe)"
    )
    for name, run in runs.items():
        print(f"{name}: best params {run['params']}; importance {run['importance']}")


if __name__ == "__main__":
    main()
