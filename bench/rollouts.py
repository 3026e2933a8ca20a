"""Rollouts: what a shadow at 100 % adds to the primary's latency, and what splitting
an alias costs against predicting by job ID.

Run by hand; prints a markdown table. Starts a private redis-server, one real worker
(trains the digits recipe twice, the second with 2 hidden units) and the API under real
gunicorn (2 workers, the project's config), then, from one keep-alive connection, times
REQUESTS one-row predictions (after a warm-up) for each case, the cases taken in turn
ROUNDS times (so drift on this shared machine falls on every case alike): by job ID;
through an alias with one target; through an alias with a 50/50 split; through an alias
with the weak model as a shadow at 100 %. The shadow runs in the API process after each
answer, so at one connection it competes for the same cores only between requests; the
row says by how much.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
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
from tests.helpers import (  # noqa: E402
    example,
    finished_job,
    free_port,
    gunicorn_app,
    start_redis,
    start_worker,
    stop,
)

REQUESTS, WARMUP, ROUNDS = 1_000, 200, 5
BODY = json.dumps({"instances": [[float(i % 17) for i in range(64)]]})


def latencies(base: str, ref: str) -> list[float]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    headers = {"Content-Type": "application/json"}
    times = []
    for i in range(WARMUP + REQUESTS):
        started = time.perf_counter()
        connection.request("POST", f"/v1/models/{ref}/predict", BODY, headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        if i >= WARMUP:
            times.append(time.perf_counter() - started)
    connection.close()
    return times


def put(base: str, name: str, body: dict[str, Any]) -> None:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    connection.request(
        "PUT", f"/v1/aliases/{name}", json.dumps(body), {"Content-Type": "application/json"}
    )
    assert connection.getresponse().status in (200, 201)
    connection.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        (Path(tmp) / "redis").mkdir()
        redis = start_redis(Path(tmp) / "redis", port)
        settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", artifact_root=f"{tmp}/art")
        worker = start_worker(settings, Path(tmp) / "worker.log", env=ONE_THREAD)
        try:
            client = create_app(settings).test_client()
            weak_spec = example("digits")
            weak_spec["model"]["layers"][0]["units"] = 2
            strong = finished_job(
                client, client.post("/v1/jobs", json=example("digits")).get_json()["id"]
            )
            weak = finished_job(client, client.post("/v1/jobs", json=weak_spec).get_json()["id"])
            env = {"REDIS_URL": settings.redis_url, "ARTIFACT_ROOT": settings.artifact_root}
            with gunicorn_app({**env, "WEB_CONCURRENCY": "2"}, Path(tmp) / "gunicorn.log") as (
                base,
                _,
            ):
                cases = {
                    "by job ID": (strong["id"], None),
                    "alias, one target": ("one", {"job_id": strong["id"]}),
                    "alias, 50/50 split": (
                        "split",
                        {
                            "targets": [
                                {"job_id": strong["id"], "weight": 50},
                                {"job_id": weak["id"], "weight": 50},
                            ]
                        },
                    ),
                    "alias, shadow at 100 %": (
                        "shadowed",
                        {"job_id": strong["id"], "shadow": {"job_id": weak["id"], "percent": 100}},
                    ),
                }
                for ref, setting in cases.values():
                    if setting is not None:
                        put(base, ref, setting)
                times: dict[str, list[float]] = {label: [] for label in cases}
                for _ in range(ROUNDS):
                    for label, (ref, _setting) in cases.items():
                        times[label] += latencies(base, ref)
                rows = [
                    (label, statistics.median(t), statistics.quantiles(t, n=100)[98])
                    for label, t in times.items()
                ]
        finally:
            stop(worker)
            stop(redis)
    base_p50 = rows[1][1]
    print(
        f"{REQUESTS * ROUNDS:,} one-row predictions a case ({ROUNDS} rounds), 1 connection, "
        "2 gunicorn workers\n"
    )
    print("| case | p50 ms | p99 ms | p50 vs alias, one target |")
    print("|---|---:|---:|---:|")
    for label, p50, p99 in rows:
        print(f"| {label} | {p50 * 1000:.3f} | {p99 * 1000:.3f} | {p50 / base_p50:.2f}x |")


if __name__ == "__main__":
    main()
