"""Slow bodies: one-row predictions while 64 clients trickle their request bodies.

Run by hand (`make bench`); prints a markdown table. Each trickling client announces a
20 MB body and sends one byte a second, reconnecting when cut off: the attack the
hostile battery found holding a gunicorn thread for 150 s. Measured with wrk, one-row
predictions at 8 connections, against gunicorn alone (the service's config) and against
gunicorn behind the nginx front `make run` starts (scripts/front.sh), each without and
with the 64 trickling clients, in one run. Target: behind the front, predictions keep at
least half their requests/s.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import DURATION, free_port, served, warm, wrk  # noqa: E402
from service.ml.artifacts import ArtifactStore  # noqa: E402
from service.ml.datasets import builtin_arrays  # noqa: E402
from service.ml.training import train  # noqa: E402
from service.schemas.spec import load_spec  # noqa: E402

TRICKLERS = 64


@contextmanager
def front(api: str) -> Iterator[str]:
    """nginx in front of the API at `api`, as `make run` starts it."""
    port, folder = free_port(), tempfile.mkdtemp(prefix="front-")
    proc = subprocess.Popen(
        [ROOT / "scripts" / "front.sh", f"127.0.0.1:{port}", api.removeprefix("http://"), folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def trickling(base: str, path: str, clients: int = TRICKLERS) -> Iterator[None]:
    """`clients` connections each sending a body one byte a second, for ever."""
    host, port = base.removeprefix("http://").split(":")
    stop = threading.Event()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 20000000\r\n\r\n{"
    ).encode()

    def trickle() -> None:
        while not stop.is_set():
            try:
                with socket.create_connection((host, int(port)), timeout=30) as conn:
                    conn.sendall(head)
                    while not stop.wait(1.0):
                        conn.sendall(b" ")
            except OSError:
                stop.wait(0.1)  # cut off: come back, as an attacker would

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(3)  # every trickler connected and sending
    try:
        yield
    finally:
        stop.set()


def measure(base: str, path: str, body: bytes) -> tuple[float, float]:
    """One-row req/s without, then with, the trickling clients (0 when nothing gets
    through)."""
    warm(base + path)
    quiet = wrk(base + path, body, 8)["rps"]
    with trickling(base, path):
        try:
            loaded = wrk(base + path, body, 8)["rps"]
        except (RuntimeError, AttributeError):  # errors, or no request completed
            loaded = 0.0
    return quiet, loaded


def main() -> None:
    spec = load_spec(json.loads((ROOT / "examples/digits.json").read_text()))
    result = train(spec)
    root, job_id = Path(tempfile.mkdtemp(prefix="bench-")), str(uuid.uuid4())
    ArtifactStore(root).save(job_id, result.model, {"summary": result.summary})
    x, _ = builtin_arrays("digits", 0, 0)
    one = json.dumps({"instances": x[:1].tolist()}).encode()
    path = f"/v1/models/{job_id}/predict"
    env = {
        "ARTIFACT_ROOT": str(root),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "PRELOAD_MODELS": job_id,
    }
    rows = {}
    with served("service.wsgi:app", env) as api:
        rows["gunicorn alone"] = measure(api, path, one)
        with front(api) as base:
            rows["nginx front -> gunicorn"] = measure(base, path, one)
    print(f"one-row predict, 8 connections, wrk {DURATION}s a cell, {TRICKLERS} tricklers\n")
    print("| serving | req/s | req/s with tricklers | kept |")
    print("|---|---:|---:|---:|")
    for name, (quiet, loaded) in rows.items():
        print(f"| {name} | {quiet:,.0f} | {loaded:,.0f} | {loaded / quiet:.0%} |")


if __name__ == "__main__":
    main()
