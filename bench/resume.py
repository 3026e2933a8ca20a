"""Checkpoints and resume: what a checkpoint costs, and what a killed worker costs.

Run by hand; prints markdown tables. Measures:

  checkpoint cost   the digits recipe (20 epochs, no early stopping) fitted in this
                    process with a checkpoint after every epoch and with none
                    (service.ml.training.train, 3 runs each, best of): seconds per
                    epoch, the time each checkpoint took to make and write to a local
                    artifact store, and its size
  kills             the digits recipe through the API on 2 real workers (one thread per
                    TensorFlow pool, private Redis), killed at epoch 5 (SIGKILL): the
                    work horse alone (its worker retries at once), and the whole worker
                    with its horse (noticed once its heartbeat lapses): epochs run again,
                    seconds from the kill to the first epoch of the resumed attempt, and
                    the final test accuracy

The machine (2 cores) is shared and noisy: compare within one run.
"""

from __future__ import annotations

import os
import signal
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
from service.ml.artifacts import ArtifactStore  # noqa: E402
from service.ml.training import train  # noqa: E402
from service.schemas.spec import load_spec  # noqa: E402
from tests.helpers import (  # noqa: E402
    children,
    example,
    free_port,
    start_redis,
    start_worker,
    stop,
)

EPOCHS, KILL_AT, RUNS = 20, 5, 3
JOB_ID = "00000000-0000-4000-8000-000000000001"


def digits(every: int) -> dict[str, Any]:
    spec = example("digits")
    spec["fit"].update(epochs=EPOCHS, early_stopping=None, checkpoint_every=every)
    return spec


def checkpoint_cost(root: Path) -> dict[str, float]:
    store = ArtifactStore(root)
    sizes: list[int] = []

    def write(content: bytes) -> None:
        sizes.append(len(content))
        store.write_checkpoint(JOB_ID, content)

    plain = min(train(load_spec(digits(0))).seconds for _ in range(RUNS))
    runs = [train(load_spec(digits(1)), write_checkpoint=write) for _ in range(RUNS)]
    best = min(runs, key=lambda r: r.seconds)
    costs = best.checkpoint_seconds or []
    return {
        "plain_epoch_s": plain / EPOCHS,
        "checkpointed_epoch_s": best.seconds / EPOCHS,
        "checkpoint_s": sum(costs) / len(costs),
        "bytes": sizes[-1],
    }


def kill(client: Any, workers: list[Any], whole_worker: bool) -> dict[str, Any]:
    job_id = client.post("/v1/jobs", json=digits(1)).get_json()["id"]
    while client.get(f"/v1/jobs/{job_id}").get_json()["progress"]["epoch"] < KILL_AT:
        time.sleep(0.01)
    worker = next(w for w in workers if children(w.pid))
    (horse,) = children(worker.pid)
    os.kill(horse, signal.SIGKILL)
    if whole_worker:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    killed = time.monotonic()
    at = client.get(f"/v1/jobs/{job_id}").get_json()["progress"]["epoch"]
    resumed_s = None
    while True:
        job = client.get(f"/v1/jobs/{job_id}").get_json()
        if resumed_s is None and job["resumed_from_epoch"] and job["progress"]["epoch"] > at:
            resumed_s = time.monotonic() - killed
        if job["status"] in ("finished", "failed", "canceled"):
            break
        time.sleep(0.05)
    return {
        "killed_at": at,
        "resumed_from": job["resumed_from_epoch"],
        "resumed_s": resumed_s,
        "accuracy": job["metrics"]["accuracy"] if job["metrics"] else None,
        "epochs": len(job["history"]["loss"]),
        "status": job["status"],
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cost = checkpoint_cost(Path(tmp) / "store")
        port = free_port()
        (Path(tmp) / "redis").mkdir()
        redis = start_redis(Path(tmp) / "redis", port)
        settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", artifact_root=f"{tmp}/art")
        workers = [
            start_worker(settings, Path(tmp) / f"worker-{i}.log", env=ONE_THREAD) for i in range(2)
        ]
        try:
            client = create_app(settings).test_client()
            kills = {"work horse killed": kill(client, workers, whole_worker=False)}
            kills["worker and horse killed"] = kill(client, workers, whole_worker=True)
        finally:
            for proc in (*workers, redis):
                stop(proc)
    print(f"Checkpoint cost, digits ({EPOCHS} epochs, best of {RUNS} in-process fits):\n")
    print("| checkpoint_every | s per epoch | s per checkpoint | checkpoint bytes |")
    print("|---|---:|---:|---:|")
    print(f"| 0 | {cost['plain_epoch_s']:.4f} | - | - |")
    print(
        f"| 1 | {cost['checkpointed_epoch_s']:.4f} | {cost['checkpoint_s']:.4f} | "
        f"{cost['bytes']:,} |"
    )
    print(f"\nKilled at epoch {KILL_AT} of {EPOCHS} (2 workers):\n")
    print(
        "| kill | epoch at kill | resumed after epoch | epochs run again "
        "| s to resumed training | epochs in history | test accuracy |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, run in kills.items():
        again = run["killed_at"] - (run["resumed_from"] or 0)
        print(
            f"| {name} | {run['killed_at']} | {run['resumed_from']} | {again} | "
            f"{run['resumed_s']:.1f} | {run['epochs']} | {run['accuracy']:.4f} |"
        )


if __name__ == "__main__":
    main()
