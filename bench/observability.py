"""What request IDs and metrics add to each request, in process.

Run by hand: `.venv/bin/python bench/observability.py`; prints a table. A bare Flask
app with one no-op route is timed through Flask's test client (best of 7 rounds of
10,000 requests, the variants interleaved), then the same app with the request-ID
hooks, the metrics hooks, and both. Metrics run in multiprocess mode, as under gunicorn
(values written to memory-mapped files), which costs more than the single-process
default. Numbers are for comparing within one run; the machine is shared and noisy.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Before prometheus_client is imported: it picks its mode then.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-metrics-")

from flask import Flask  # noqa: E402

from service import request_ids  # noqa: E402
from service.metrics import instrument  # noqa: E402

REQUESTS, ROUNDS = 10_000, 7


def app_with(*hooks: Callable[[Flask], None]) -> Flask:
    app = Flask(__name__)
    for hook in hooks:
        hook(app)

    @app.get("/noop")
    def noop() -> dict[str, object]:
        return {}

    return app


def seconds_per_request(app: Flask) -> float:
    client = app.test_client()
    started = time.perf_counter()
    for _ in range(REQUESTS):
        client.get("/noop")
    return (time.perf_counter() - started) / REQUESTS


def main() -> None:
    variants = {
        "bare Flask": app_with(),
        "+ request IDs": app_with(request_ids.install),
        "+ metrics": app_with(instrument),
        "+ both": app_with(request_ids.install, instrument),
    }
    # Rounds interleave the variants, so that a slower spell of a shared machine
    # slows them all; each keeps its best round.
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(ROUNDS):
        for name, app in variants.items():
            best[name] = min(best[name], seconds_per_request(app))
    print("| app | µs per request | added µs |\n|---|---:|---:|")
    for name, seconds in best.items():
        added = (seconds - best["bare Flask"]) * 1e6
        print(f"| {name} | {seconds * 1e6:.1f} | {added:+.1f} |")
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"])


if __name__ == "__main__":
    main()
