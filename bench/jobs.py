"""Training jobs end to end: start latency, service overhead, throughput, worker design.

Run by hand (`make bench`); prints markdown tables. It starts a private redis-server,
the real app (create_app, called in this process) and real worker processes, and
measures:

  fork vs long-lived  30 small jobs one after another on an idle worker, the service's
                      (a fork per job) against bench/long_lived_worker.py (RQ's
                      SimpleWorker): submit -> started, started -> finished, worker RSS
  digits overhead     the digits recipe POSTed and trained (POST -> finished) against
                      the same fit (service.ml.training.train) in a fresh plain process
  throughput          40 small jobs and 6 digits jobs queued at once, with 1 and 2
                      workers and 2 workers with TensorFlow's default thread pools
                      (every core each) against one thread each (what scripts/run.sh sets)

Times come from the job records (RQ's started_at and ended_at) against this process's
clock at submission, the same machine's clock. The machine (2 cores) is shared and
noisy: compare within one run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from redis import Redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402

from service.app import create_app  # noqa: E402
from service.config import Settings  # noqa: E402
from tests.helpers import example, free_port, start_redis, start_worker, stop  # noqa: E402

SEQUENTIAL_JOBS = 30
SMALL_JOBS = 40
DIGITS_JOBS = 6
DIGITS_RUNS = 5
ENDED = ("finished", "failed", "canceled")
# One thread per pool: what scripts/run.sh gives each of 2 workers on 2 cores.
ONE_THREAD = {
    name: "1"
    for name in (
        "TF_NUM_INTRAOP_THREADS",
        "TF_NUM_INTEROP_THREADS",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
    )
}
# The first fit of a fresh process, as a user's own script would run it.
PLAIN_FIT = """
import json, sys, time
from service.ml.training import train
from service.schemas.spec import load_spec
spec = load_spec(json.load(open(sys.argv[1])))
start = time.perf_counter()
train(spec)
print(time.perf_counter() - start)
"""


def small() -> dict[str, Any]:
    """A job whose cost is mostly overhead: sum_of_two for 3 epochs (~1 s)."""
    spec = example("sum_of_two")
    spec["fit"]["epochs"] = 3
    return spec


def stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


class Bench:
    """A private redis-server and artifact root; a fresh queue for each scenario."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        port = free_port()
        self.redis_proc = start_redis(tmp, port)
        self.redis = Redis(port=port)
        self.settings = Settings(
            redis_url=f"redis://127.0.0.1:{port}/0",
            artifact_root=str(tmp / "artifacts"),
            job_timeout_s=600,
        )
        self.scenarios = 0

    def close(self) -> None:
        stop(self.redis_proc)

    @contextmanager
    def service(
        self, workers: int = 1, env: dict[str, str] | None = None, module: str = "worker.main"
    ) -> Iterator[tuple[Any, list[subprocess.Popen]]]:
        """A test client of the real app and `workers` worker processes, all on a queue
        of their own; yields once every worker is registered and waiting."""
        self.scenarios += 1
        settings = replace(self.settings, queue_name=f"bench-{self.scenarios}")
        log = self.tmp / f"worker-{self.scenarios}.log"
        procs = [start_worker(settings, log, env=env, module=module) for _ in range(workers)]
        try:
            queue = Queue(settings.queue_name, connection=self.redis)
            until(lambda: len(Worker.all(queue=queue)) == workers, timeout=120)
            client = create_app(settings).test_client()
            # The API's first spec check imports Keras (~3 s): a start-up cost, not a job's.
            assert client.post("/v1/summary", json={"model": small()["model"]}).status_code == 200
            time.sleep(1)  # the workers past start-up and into their blocking dequeue
            yield client, procs
        finally:
            for proc in procs:
                stop(proc)


def until(predicate: Any, timeout: float, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    raise TimeoutError(f"not done within {timeout} s")


def submit(client: Any, spec: dict[str, Any]) -> tuple[str, float]:
    """POST a job; returns its ID and the wall-clock time just before the POST."""
    at = time.time()
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"], at


def ended(client: Any, job_id: str, timeout: float = 300) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = client.get(f"/v1/jobs/{job_id}").get_json()
        return job if job["status"] in ENDED else None

    job = until(done, timeout)
    assert job["status"] == "finished", job["error"]
    return job


def one_by_one(client: Any, worker: subprocess.Popen) -> dict[str, Any]:
    """SEQUENTIAL_JOBS small jobs, each submitted to an idle worker once the last ended:
    seconds submit -> started and started -> finished, and the worker's RSS (MB)."""
    to_start, to_finish, rss = [], [], []
    for _ in range(SEQUENTIAL_JOBS):
        job_id, at = submit(client, small())
        job = ended(client, job_id)
        to_start.append(stamp(job["started_at"]) - at)
        to_finish.append(stamp(job["ended_at"]) - stamp(job["started_at"]))
        time.sleep(0.3)  # the worker back in its blocking dequeue: idle again
        rss.append(rss_mb(worker.pid))
    return {"to_start": to_start, "to_finish": to_finish, "rss": rss}


def throughput(client: Any, spec: dict[str, Any], count: int) -> float:
    """Jobs per second for `count` copies of `spec` queued at once."""
    submitted = [submit(client, spec) for _ in range(count)]
    jobs = [ended(client, job_id, timeout=900) for job_id, _ in submitted]
    return count / (max(stamp(j["ended_at"]) for j in jobs) - submitted[0][1])


def plain_fit_seconds() -> float:
    """The digits fit in a fresh Python process: build, compile, fit, evaluate."""
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_FIT, str(ROOT / "examples" / "digits.json")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def digits_overhead(bench: Bench) -> tuple[list[float], list[float]]:
    """Seconds POST -> finished through the service, and of the plain fit, taken in
    turns (the worker waits idle meanwhile) so that the machine's noise hits both."""
    service, plain = [], []
    with bench.service() as (client, _):
        for _ in range(DIGITS_RUNS):
            job_id, at = submit(client, example("digits"))
            service.append(stamp(ended(client, job_id)["ended_at"]) - at)
            plain.append(plain_fit_seconds())
    return service, plain


def print_designs(designs: dict[str, dict[str, Any]]) -> None:
    print(f"\n{SEQUENTIAL_JOBS} small jobs (sum_of_two, 3 epochs) one after another, idle worker\n")
    print(
        "| worker | submit→started p50 s | p95 s | started→finished p50 s "
        "| worker RSS after job 1 MB | after job 30 MB |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in designs.items():
        print(
            f"| {name} | {statistics.median(m['to_start']):.3f} "
            f"| {percentile(m['to_start'], 95):.3f} | {statistics.median(m['to_finish']):.3f} "
            f"| {m['rss'][0]:,.0f} | {m['rss'][-1]:,.0f} |"
        )


def print_throughput(rows: dict[str, tuple[float, float]]) -> None:
    print("\nThroughput, jobs queued at once\n")
    print(
        f"| workers x threads each | {SMALL_JOBS} small jobs: jobs/s "
        f"| {DIGITS_JOBS} digits jobs: jobs/min |"
    )
    print("|---|---:|---:|")
    for name, (small_rate, digits_rate) in rows.items():
        print(f"| {name} | {small_rate:.2f} | {digits_rate * 60:.1f} |")


def main() -> None:
    bench = Bench(Path(tempfile.mkdtemp(prefix="bench-jobs-")))
    try:
        designs = {}
        for name, module in (
            ("fork per job (service)", "worker.main"),
            ("long-lived (SimpleWorker)", "bench.long_lived_worker"),
        ):
            with bench.service(module=module) as (client, (worker,)):
                designs[name] = one_by_one(client, worker)
        service, plain = digits_overhead(bench)
        rows = {}
        for name, workers, env in (
            ("1 x 2 (TF default)", 1, None),
            ("2 x 2 (TF default)", 2, None),
            ("2 x 1 (run.sh)", 2, ONE_THREAD),
        ):
            with bench.service(workers, env) as (client, _):
                rows[name] = (
                    throughput(client, small(), SMALL_JOBS),
                    throughput(client, example("digits"), DIGITS_JOBS),
                )
    finally:
        bench.close()

    print(f"Training jobs, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, one run")
    print_designs(designs)
    fork = designs["fork per job (service)"]["to_start"]
    print(
        f"\nsubmit → started on an idle worker (service): p50 {statistics.median(fork):.3f} s, "
        f"p95 {percentile(fork, 95):.3f} s (target p50 ≤ 0.2 s)"
    )
    ratio = statistics.median(service) / statistics.median(plain)
    print(
        f"digits recipe, median of {DIGITS_RUNS}: POST → finished "
        f"{statistics.median(service):.2f} s, plain-process fit "
        f"{statistics.median(plain):.2f} s: {ratio:.2f}x (target ≤ 1.2x)"
    )
    print_throughput(rows)


if __name__ == "__main__":
    main()
