"""Serving throughput, latency and memory against the plain floor, with wrk on 127.0.0.1.

Run by hand (`make bench`); prints markdown tables. It trains three models in-process
(the digits recipe, 64 -> 512 -> 10; a Conv2D model; an LSTM model), stores each as the
worker stores a job (Keras file and ONNX form), and serves:

  noop (floor)   bench/noop_app.py under gunicorn with the service's worker count,
                 class (gthread) and threads, gunicorn's defaults otherwise: no access
                 log, one shared listening socket
  previous       the service at another commit (BENCH_PREVIOUS=<a checkout>: f4e1d4d,
                 before ONNX serving; 890edfc, before the prediction shortcut), with
                 its own gunicorn config; skipped when not given
  ours           the service with API_ROLE=serving: POST /v1/models/<id>/predict, its
                 gunicorn config, access log on (written, to /dev/null)

All three get the same WEB_CONCURRENCY (2) and GUNICORN_THREADS (2, the serving
role's default). A cell where one worker did under a quarter of the work is run again
(up to 4 times): it measured one worker, not the server; each worker's share is
printed.

Cells: one row at 8 connections (req/s), one row at 1 connection (p50), 32 rows at 8
connections (rows/s), and one row at 8 connections for the Conv2D and LSTM models; then
each serving worker's RSS after 10,000 predictions across the three models, the time
from starting the API to its first prediction, and a cold model load. Ratios are taken
within this one run; wrk shares the 2 cores with the servers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
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

import numpy as np  # noqa: E402

from service.ml.artifacts import ONNX_FILE, ArtifactStore  # noqa: E402
from service.ml.conversion import convert  # noqa: E402
from service.ml.datasets import builtin_arrays  # noqa: E402
from service.ml.training import train  # noqa: E402
from service.schemas.spec import load_spec  # noqa: E402

DURATION = os.environ.get("BENCH_SECONDS", "8")
WORKERS = os.environ.get("WEB_CONCURRENCY", "2")
# The serving role's default (service/gunicorn_conf.py), given to both apps.
THREADS = os.environ.get("GUNICORN_THREADS", "2")
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PREVIOUS = os.environ.get("BENCH_PREVIOUS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> Iterator[str]:
    """gunicorn with `args`; yield its base URL once it answers."""
    port = free_port()
    full_env = {
        **os.environ,
        **env,
        "PORT": str(port),
        "WEB_CONCURRENCY": WORKERS,
        "GUNICORN_THREADS": THREADS,
    }
    server = subprocess.Popen(
        [GUNICORN, "--bind", f"127.0.0.1:{port}", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for(base: str, deadline_s: float = 90) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
            return
        except urllib.error.HTTPError:
            return  # the noop app has no /healthz, but it answers
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def served(app: str, env: dict[str, str], cwd: Path = ROOT) -> Iterator[str]:
    """An app under the service's gunicorn config (of the checkout at `cwd`)."""
    return gunicorn(["--config", "python:service.gunicorn_conf", app], env, cwd)


def floor() -> Iterator[str]:
    """The plain floor: the no-op app, the same worker count and class, no access log."""
    return gunicorn(
        [
            "--workers",
            WORKERS,
            "--worker-class",
            "gthread",
            "--threads",
            THREADS,
            "bench.noop_app:app",
        ],
        {},
    )


def post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def warm(url: str, body: bytes) -> None:
    """Every gunicorn worker loads its model on first use: warm them all."""
    for _ in range(40):
        post(url, body)


def wrk(url: str, body: bytes, connections: int, tries: int = 4) -> dict[str, float]:
    """One wrk cell; run again (up to `tries` times) while one worker got under a
    quarter of the work: such a run measures one worker, not the server."""
    for _ in range(tries):
        cell = wrk_once(url, body, connections)
        if connections == 1 or cell["share"] >= 0.25:
            break
    return cell


def wrk_once(url: str, body: bytes, connections: int) -> dict[str, float]:
    """Requests/s, p50 latency (ms) and how evenly the server's workers shared the work
    (the smallest worker's share of their CPU time: 0.5 is even for two) of one wrk
    run. A run whose connections all landed on one worker is not a measurement."""
    pids = worker_pids(url.split("/", 3)[0] + "//" + url.split("/", 3)[2])
    before = cpu_ticks(pids)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body.decode())}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(connections, 2)),
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
    used = [after - earlier for after, earlier in zip(cpu_ticks(pids), before, strict=True)]
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "share": min(used) / max(sum(used), 1),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


SPECS = {
    "conv2d": {
        "model": {
            "input_shape": [64],
            "layers": [
                {"type": "Reshape", "target_shape": [8, 8, 1]},
                {"type": "Conv2D", "filters": 8, "kernel_size": 3, "activation": "relu"},
                {"type": "MaxPooling2D"},
                {"type": "Flatten"},
                {"type": "Dense", "units": 10, "activation": "softmax"},
            ],
        },
    },
    "lstm": {
        "model": {
            "input_shape": [64],
            "layers": [
                {"type": "Reshape", "target_shape": [8, 8]},
                {"type": "LSTM", "units": 32},
                {"type": "Dense", "units": 10, "activation": "softmax"},
            ],
        },
    },
}


def stored_models(root: Path) -> dict[str, tuple[str, np.ndarray]]:
    """The three models, stored as the worker stores jobs; by name, job ID and rows."""
    digits = json.loads((ROOT / "examples/digits.json").read_text())
    x, _ = builtin_arrays("digits", 0, 0)
    models = {}
    for name in ("dense", "conv2d", "lstm"):
        raw = {**digits, "fit": {**digits["fit"], "epochs": 3}}
        if name in SPECS:
            raw["model"] = SPECS[name]["model"]
        result = train(load_spec(raw))
        job_id = str(uuid.uuid4())
        onnx_model = convert(result.model, result.check_rows)
        ArtifactStore(root).save(
            job_id, result.model, {"summary": result.summary}, files={ONNX_FILE: onnx_model}
        )
        models[name] = (job_id, x.astype(np.float32))
    return models


def body(rows: np.ndarray) -> bytes:
    return json.dumps({"instances": rows.tolist()}).encode()


def worker_pids(base: str) -> list[int]:
    """The gunicorn workers serving `base`: the children of the master whose command
    line names its port."""
    port = base.rsplit(":", 1)[1]
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if f"127.0.0.1:{port}" in cmd and "gunicorn" in cmd:
            found.append((int(proc.name), int(re.search(r"PPid:\s+(\d+)", status).group(1))))
    pids = {pid for pid, _ in found}
    return [pid for pid, ppid in found if ppid in pids]


def rss_mb(base: str) -> list[float]:
    """VmRSS (MB) of each gunicorn worker serving `base`."""
    return [
        int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024
        for pid in worker_pids(base)
    ]


def cpu_ticks(pids: list[int]) -> list[int]:
    """User + system CPU ticks of each process so far."""
    ticks = []
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks.append(int(fields[11]) + int(fields[12]))
    return ticks


def measure(base: str, models: dict[str, tuple[str, np.ndarray]], path: str | None) -> dict:
    """The throughput cells of one app (`path` None: the noop app, at /noop)."""
    cells = {}
    for name, (job_id, x) in models.items():
        url = f"{base}{path.format(job_id) if path else '/noop'}"
        one, many = body(x[:1]), body(x[:32])
        warm(url, one)
        cells[f"{name} 1x8"] = wrk(url, one, 8)
        if name == "dense":
            cells["dense 1x1"] = wrk(url, one, 1)
            cells["dense 32x8"] = wrk(url, many, 8)
    return cells


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    root = Path(tempfile.mkdtemp(prefix="bench-"))
    models = stored_models(root)
    env = {"ARTIFACT_ROOT": str(root), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    ids = ",".join(job_id for job_id, _ in models.values())
    path = "/v1/models/{}/predict"
    results: dict[str, dict] = {}
    with floor() as base:
        results["noop (floor)"] = measure(base, models, None)
    if PREVIOUS:
        with served("service.wsgi:app", {**env, "PRELOAD_MODELS": ids}, Path(PREVIOUS)) as base:
            results[f"previous ({commit_of(Path(PREVIOUS))})"] = measure(base, models, path)
            previous_rss = spread_predictions(base, models)
    serving = {**env, "PRELOAD_MODELS": ids, "API_ROLE": "serving"}
    with served("service.wsgi:app", serving) as base:
        results["ours (API_ROLE=serving)"] = measure(base, models, path)
        ours_rss = spread_predictions(base, models)
    report(results, ours_rss, previous_rss if PREVIOUS else None)
    start_and_cold(env, models)


def commit_of(checkout: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def spread_predictions(base: str, models: dict[str, tuple[str, np.ndarray]]) -> list[float]:
    """RSS of the API's workers after 10,000 predictions spread over the three models."""
    bodies = [(base + f"/v1/models/{job_id}/predict", body(x[:1])) for job_id, x in models.values()]
    for i in range(10_000):
        url, one = bodies[i % len(bodies)]
        post(url, one)
    return rss_mb(base)


def start_and_cold(env: dict[str, str], models: dict[str, tuple[str, np.ndarray]]) -> None:
    """API start to its first prediction (the model preloaded), and one cold load."""
    job_id, x = models["dense"]
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [GUNICORN, "--config", "python:service.gunicorn_conf", "service.wsgi:app"],
        cwd=ROOT,
        env={
            **os.environ,
            **env,
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "PRELOAD_MODELS": job_id,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/models/{job_id}/predict"
    try:
        while True:
            try:
                post(url, body(x[:1]))
                break
            except OSError:
                time.sleep(0.01)
        first_s = time.perf_counter() - started
        other = models["conv2d"][0]
        cold_started = time.perf_counter()
        post(f"http://127.0.0.1:{port}/v1/models/{other}/predict", body(models["conv2d"][1][:1]))
        cold_ms = (time.perf_counter() - cold_started) * 1000
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"- API start to first prediction (one worker, model preloaded): {first_s:.2f} s")
    print(f"- cold load (a model's first prediction in a process): {cold_ms:.0f} ms")


def report(
    results: dict[str, dict], ours_rss: list[float], previous_rss: list[float] | None
) -> None:
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"gunicorn {WORKERS} workers x {THREADS} threads, wrk {DURATION}s a cell, {when}\n")
    columns = ["dense 1x8", "dense 1x1", "dense 32x8", "conv2d 1x8", "lstm 1x8"]
    print(
        "| app | 1 row, 8 conn: req/s | 1 row, 1 conn: p50 ms | 32 rows, 8 conn: rows/s "
        "| Conv2D 1 row: req/s | LSTM 1 row: req/s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, cells in results.items():
        print(
            f"| {name} | {cells['dense 1x8']['rps']:,.0f} | {cells['dense 1x1']['p50']:.2f} "
            f"| {cells['dense 32x8']['rps'] * 32:,.0f} | {cells['conv2d 1x8']['rps']:,.0f} "
            f"| {cells['lstm 1x8']['rps']:,.0f} |"
        )
    print(
        "\nSmallest worker's share of the server CPU in each cell (0.50 is even): "
        + "; ".join(
            f"{name}: " + ", ".join(f"{cells[c]['share']:.2f}" for c in columns)
            for name, cells in results.items()
        )
    )
    noop = results["noop (floor)"]
    print()
    for name in [n for n in results if n != "noop (floor)"]:
        cells = results[name]
        ratios = [cells[c]["rps"] / noop[c]["rps"] for c in columns if c != "dense 1x1"]
        p50 = cells["dense 1x1"]["p50"] / noop["dense 1x1"]["p50"]
        print(
            f"- {name} / noop: one row {ratios[0]:.2f}x (target >= 0.8x), p50 {p50:.2f}x "
            f"(target <= 1.5x), 32 rows {ratios[1]:.2f}x (target >= 0.8x, and >= 90,000 "
            f"rows/s), Conv2D {ratios[2]:.2f}x, LSTM {ratios[3]:.2f}x (targets >= 0.6x)"
        )
    print(
        f"- RSS of each API worker after 10,000 predictions over 3 models: "
        f"{', '.join(f'{r:.0f} MB' for r in ours_rss)} (target <= 150 MB)"
    )
    if previous_rss:
        print(f"  (previous design: {', '.join(f'{r:.0f} MB' for r in previous_rss)})")


if __name__ == "__main__":
    main()
