"""Serving throughput and latency against the physical floor, with wrk on 127.0.0.1.

Run by hand (`make bench`); prints a markdown table. It trains the digits recipe
(64 -> 512 -> 10) in-process, stores it as a job's artifacts, and serves three apps
with the same gunicorn settings (service/gunicorn_conf.py):

  noop           bench/noop_app.py: parses the JSON body, answers without a model (floor)
  model.predict  bench/keras_predict_app.py: Flask calling keras model.predict()
  ours           the service: POST /v1/models/<id>/predict

Each is measured one-row at 8 connections (throughput), one-row at 1 connection (p50
latency) and 32-row at 8 connections (rows/s). Ratios are taken within this one run;
wrk shares the 2 cores with the servers, as any local load generator would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from service.ml.artifacts import ArtifactStore  # noqa: E402
from service.ml.datasets import builtin_arrays  # noqa: E402
from service.ml.training import train  # noqa: E402
from service.schemas.spec import load_spec  # noqa: E402

DURATION = os.environ.get("BENCH_SECONDS", "8")
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(app: str, env: dict[str, str], workers: str | None = None) -> Iterator[str]:
    """Run `app` under gunicorn with the service's settings; yield its base URL once it
    answers (on /healthz, or any HTTP answer for the bench apps)."""
    port = free_port()
    full_env = {**os.environ, **env, "PORT": str(port)}
    if workers:
        full_env["WEB_CONCURRENCY"] = workers
    cmd = [
        GUNICORN,
        "--config",
        "python:service.gunicorn_conf",
        "--access-logfile",
        "/dev/null",
        app,
    ]
    server = subprocess.Popen(
        cmd, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
                break
            except urllib.error.HTTPError:
                break  # the bench apps have no /healthz, but they answer
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def warm(url: str) -> None:
    """Every gunicorn worker loads its model on first use: warm them all."""
    for _ in range(20):
        post(url, json.dumps({"instances": [[0.0] * 64]}).encode())


def post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def wrk(url: str, body: bytes, connections: int) -> dict[str, float]:
    """Requests/s and latency percentiles (ms) from one wrk run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body.decode())}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    threads = str(min(connections, 2))
    out = subprocess.run(
        [
            "wrk",
            "-t",
            threads,
            "-c",
            str(connections),
            "-d",
            f"{DURATION}s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors under load:\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    spec = load_spec(json.loads((ROOT / "examples/digits.json").read_text()))
    result = train(spec)
    root, job_id = Path(tempfile.mkdtemp(prefix="bench-")), str(uuid.uuid4())
    store = ArtifactStore(root)
    store.save(job_id, result.model, {"summary": result.summary})
    x, _ = builtin_arrays("digits", 0, 0)
    one = json.dumps({"instances": x[:1].tolist()}).encode()
    many = json.dumps({"instances": x[:32].tolist()}).encode()

    common = {"ARTIFACT_ROOT": str(root), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    apps = {
        "noop (floor)": ("bench.noop_app:app", {}, "/noop"),
        "model.predict": (
            "bench.keras_predict_app:app",
            {"MODEL_PATH": str(store.model_path(job_id))},
            "/predict",
        ),
        "ours": ("service.wsgi:app", {"PRELOAD_MODELS": job_id}, f"/v1/models/{job_id}/predict"),
    }
    # Cold load: the first prediction of a model nobody has asked for since start, as
    # after a job finishes (one gunicorn worker, so the request surely meets it cold).
    with served("service.wsgi:app", common, workers="1") as base:
        start = time.perf_counter()
        post(f"{base}/v1/models/{job_id}/predict", one)
        cold_ms = (time.perf_counter() - start) * 1000

    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, (app, env, path) in apps.items():
        with served(app, {**common, **env}) as base:
            warm(base + path)
            results[name] = {
                "1 row, 8 conn": wrk(base + path, one, 8),
                "1 row, 1 conn": wrk(base + path, one, 1),
                "32 rows, 8 conn": wrk(base + path, many, 8),
            }

    report(results, cold_ms)


def report(results: dict[str, dict[str, dict[str, float]]], cold_ms: float) -> None:
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"digits model, gunicorn {workers} workers, wrk {DURATION}s per cell, {when}\n")
    print(
        "| app | 1 row, 8 conn: req/s | 1 row, 1 conn: p50 ms | p99 ms | 32 rows, 8 conn: rows/s |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, cells in results.items():
        one, alone, many = cells["1 row, 8 conn"], cells["1 row, 1 conn"], cells["32 rows, 8 conn"]
        print(
            f"| {name} | {one['rps']:,.0f} | {alone['p50']:.2f} | {alone['p99']:.2f} "
            f"| {many['rps'] * 32:,.0f} |"
        )
    floor, ours = results["noop (floor)"], results["ours"]
    throughput = ours["1 row, 8 conn"]["rps"] / floor["1 row, 8 conn"]["rps"]
    latency = ours["1 row, 1 conn"]["p50"] / floor["1 row, 1 conn"]["p50"]
    rows = ours["32 rows, 8 conn"]["rps"] * 32
    print()
    print(f"- one-row req/s at 8 connections, ours / noop: {throughput:.2f}x (target >= 0.5x)")
    print(f"- one-row p50 at 1 connection, ours / noop: {latency:.2f}x (target <= 3x)")
    print(f"- 32-row rows/s at 8 connections, ours: {rows:,.0f} (target >= 30,000)")
    print(f"- first prediction of a model after start (cold load): {cold_ms:.0f} ms (target < 1 s)")


if __name__ == "__main__":
    main()
