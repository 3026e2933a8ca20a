"""Batch predictions: rows per second for the digits model on one worker, end to end.

Run by hand; prints a markdown table. Starts a private redis-server, the real app (in
this process) and one real worker (one thread per pool, as scripts/run.sh runs it),
trains the digits recipe, uploads 100,000 rows of 64 pixel values (MAX_DATA_ROWS) as
CSV, then times batch predictions of all of them (3 runs): from the POST to the batch
reading `finished` (queueing, the worker's fork, loading the model and the dataset,
predicting, writing and storing the CSV; the upload excluded), and the worker's own
seconds (`result.seconds`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from bench.jobs import ONE_THREAD  # noqa: E402
from service.app import create_app  # noqa: E402
from service.config import Settings  # noqa: E402
from tests.helpers import example, free_port, start_redis, start_worker, stop  # noqa: E402

ROWS, RUNS = 100_000, 3


def wait(client: Any, url: str) -> dict[str, Any]:
    while True:
        found = client.get(url).get_json()
        if found["status"] in ("finished", "failed", "canceled"):
            return found
        time.sleep(0.01)


def main() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 17, size=(ROWS, 64))
    csv = "\n".join(
        [",".join(f"p{i}" for i in range(64))] + [",".join(map(str, r)) for r in pixels]
    )
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        (Path(tmp) / "redis").mkdir()
        redis = start_redis(Path(tmp) / "redis", port)
        settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", artifact_root=f"{tmp}/art")
        worker = start_worker(settings, Path(tmp) / "worker.log", env=ONE_THREAD)
        try:
            client = create_app(settings).test_client()
            model = wait(
                client, client.post("/v1/jobs", json=example("digits")).headers["Location"]
            )
            upload = client.post("/v1/datasets", data=csv, headers={"Content-Type": "text/csv"})
            dataset = upload.get_json()["id"]
            runs = []
            for _ in range(RUNS):
                started = time.monotonic()
                response = client.post(
                    f"/v1/models/{model['id']}/batch-predictions",
                    json={"dataset_id": dataset, "return": "both"},
                )
                batch = wait(client, response.headers["Location"])
                assert batch["status"] == "finished", batch["error"]
                runs.append((time.monotonic() - started, batch["result"]))
        finally:
            stop(worker)
            stop(redis)
    print(f"Batch predictions, digits model, {ROWS:,} rows, `return: both`, one worker:\n")
    print(
        "| run | POST to finished, s | rows/s end to end | worker s "
        "| rows/s in the worker | CSV bytes |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for i, (seconds, result) in enumerate(runs, 1):
        print(
            f"| {i} | {seconds:.2f} | {ROWS / seconds:,.0f} | {result['seconds']:.2f} | "
            f"{ROWS / result['seconds']:,.0f} | {result['bytes']:,} |"
        )


if __name__ == "__main__":
    main()
