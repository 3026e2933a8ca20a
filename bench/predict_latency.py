"""One-row prediction latency, from Keras's own call to a real HTTP request.

Run by hand (`make bench`); prints a table. It trains the digits recipe in-process,
stores it as a job's artifacts, then times:
  - keras `model.predict()` and a direct `model(x)` call on one row (what hand-rolled
    Flask scripts do),
  - our predictor on one row: the model's ONNX form in ONNX Runtime, which /predict runs,
  - HTTP round trips to gunicorn (the project's config) from a Python client on
    127.0.0.1, a new connection each: /healthz as the floor of the stack, and
    /v1/models/<id>/predict with one row. (bench/serving.py measures under load.)
Numbers are for comparing within one run; the machine is shared and noisy.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from service.ml.artifacts import ONNX_FILE, ArtifactStore  # noqa: E402
from service.ml.conversion import convert  # noqa: E402
from service.ml.datasets import builtin_arrays  # noqa: E402
from service.ml.predictor import Predictor  # noqa: E402
from service.ml.training import train  # noqa: E402
from service.schemas.spec import load_spec  # noqa: E402


def timings_ms(call: Callable[[], object], repeat: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    spec = load_spec(json.loads((ROOT / "examples/digits.json").read_text()))
    result = train(spec)
    root, job_id = Path(tempfile.mkdtemp(prefix="bench-artifacts-")), str(uuid.uuid4())
    onnx_model = convert(result.model, result.check_rows)
    ArtifactStore(root).save(
        job_id, result.model, {"summary": result.summary}, files={ONNX_FILE: onnx_model}
    )
    x, _ = builtin_arrays("digits", 0, 0)
    row = x[:1].astype(np.float32)

    start = time.perf_counter()
    predictor = Predictor(ArtifactStore(root).read_bytes(job_id, ONNX_FILE))
    cold_ms = (time.perf_counter() - start) * 1000
    rows = {
        "keras model.predict(), 1 row": timings_ms(
            lambda: result.model.predict(row, verbose=0), 200
        ),
        "keras model(x), 1 row": timings_ms(lambda: result.model(row, training=False), 1000),
        "predictor (ONNX Runtime), 1 row": timings_ms(lambda: predictor.predict(row), 2000),
    }

    port = free_port()
    env = {
        **os.environ,
        "ARTIFACT_ROOT": str(root),
        "PORT": str(port),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # predict of a stored model needs none
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "--config", "python:service.gunicorn_conf", "service.wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        body = json.dumps({"instances": row.tolist()}).encode()
        url = f"{base}/v1/models/{job_id}/predict"
        start = time.perf_counter()
        post(url, body)  # the first request of a worker loads the model (cold)
        http_cold_ms = (time.perf_counter() - start) * 1000
        rows["HTTP GET /healthz (floor)"] = timings_ms(lambda: get(f"{base}/healthz"), 500)
        rows["HTTP POST /predict, 1 row"] = timings_ms(lambda: post(url, body), 500)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(f"digits model (64 -> 512 -> 10), {time.strftime('%Y-%m-%d %H:%M')}, one run\n")
    print(f"| {'what':34} | {'p50 ms':>8} | {'p99 ms':>8} | {'mean ms':>8} |")
    print(f"|{'-' * 36}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for name, samples in rows.items():
        p50 = statistics.median(samples)
        p99 = statistics.quantiles(samples, n=100)[98]
        print(f"| {name:34} | {p50:8.3f} | {p99:8.3f} | {statistics.fmean(samples):8.3f} |")
    print(f"\nPredictor (session + warm-up), in-process: {cold_ms:.0f} ms")
    print(f"first HTTP predict of a gunicorn worker (cold load): {http_cold_ms:.0f} ms")
    keras_p50 = statistics.median(rows["keras model.predict(), 1 row"])
    ours_p50 = statistics.median(rows["predictor (ONNX Runtime), 1 row"])
    print(f"model.predict / our predictor, p50: {keras_p50 / ours_p50:,.0f}x")


if __name__ == "__main__":
    main()
