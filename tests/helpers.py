"""Helpers the tests share: free ports, settings, example specs, waiting, and real
processes (redis-server, workers) started and stopped. Plain functions; the fixtures
that chain them are in tests/conftest.py."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from service.config import Settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# The virtualenvs `make test` installs: the project's (requirements-dev.txt) and the
# manifest and container checkers' (requirements-deploy.txt).
DEV_BIN, DEPLOY_BIN = Path(sys.executable).parent, ROOT / ".venv-deploy" / "bin"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tool(name: str, where: Path = DEV_BIN) -> str:
    """A command installed by `make test` in the virtualenv `where`; fails saying so."""
    path = where / name
    if not path.exists():
        pytest.fail(f"{name} is missing from {where}: make test installs it")
    return str(path)


def metric_samples(text: str) -> dict[tuple[str, frozenset], float]:
    """A /metrics answer, parsed: (sample name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_settings(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> Settings:
    """Settings for an app with no Redis behind it (a port where nothing listens), for
    tests of what the API answers before, or without, touching Redis."""
    return Settings(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        artifact_root=str(tmp_path_factory.mktemp("artifacts")),
        redis_timeout_s=0.5,
        **overrides,
    )


def example(name: str) -> dict[str, Any]:
    """A spec from examples/, as a client would POST it."""
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def start_redis(data: Path, port: int, *options: str) -> subprocess.Popen:
    """Start redis-server on `port` with its files in `data` (no snapshots unless
    `options` ask for persistence); return once it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (make test installs it)")
    args = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(data), "--save", ""]
    args += ["--logfile", str(data / "redis.log"), *options]
    proc = subprocess.Popen([binary, *args])
    client = redis.Redis(port=port)
    wait_until(lambda: pings(client), timeout=10)
    return proc


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (RQ's work horse is the worker's only child)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


def start_worker(
    settings: Settings,
    log: Path,
    *args: str,
    env: dict[str, str] | None = None,
    module: str = "worker.main",
) -> subprocess.Popen:
    """`python -m worker.main` serving `settings`' Redis, queue and artifact root, with
    `env` added to its environment (another `module` for benchmarks)."""
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "ARTIFACT_ROOT": settings.artifact_root,
        "QUEUE_NAME": settings.queue_name,
        "JOB_TIMEOUT": str(settings.job_timeout_s),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    with open(log, "a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=ROOT, env=env, stdout=out, stderr=out
        )


@contextmanager
def gunicorn_app(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """The API under real gunicorn with the project's config, one worker, `env` added
    to this environment, its output in `log`; yields its base URL and process once it
    answers /healthz."""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(gunicorn), "--config", "python:service.gunicorn_conf", "service.wsgi:app"],
            cwd=ROOT,
            env={**os.environ, "WEB_CONCURRENCY": "1", **env, "PORT": str(port)},
            stdout=out,
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{base}/healthz"), timeout=60, interval=0.2)
        yield base, proc
    finally:
        stop(proc)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def long_digits(**fit: Any) -> dict[str, Any]:
    """The digits recipe for long enough (minutes) to be canceled or killed mid-fit."""
    spec = example("digits")
    spec["fit"].update(epochs=500, early_stopping=None, **fit)
    return spec


def quick_sum(epochs: int = 3, **extra: Any) -> dict[str, Any]:
    """The sum-of-two recipe in a few epochs (about a second); `extra` top-level fields
    such as `queue`."""
    spec = example("sum_of_two")
    spec["fit"]["epochs"] = epochs
    return {**spec, **extra}


def submit(client: Any, spec: dict[str, Any], **headers: str) -> str:
    """POST a spec; returns the new job's ID."""
    response = client.post("/v1/jobs", json=spec, headers=headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def training(client: Any, job_id: str) -> dict[str, Any]:
    """Wait until the job has finished an epoch (it is mid-fit from then on)."""

    def fitting() -> dict[str, Any] | None:
        job = client.get(f"/v1/jobs/{job_id}").get_json()
        return job if job["progress"]["epoch"] >= 1 else None

    return wait_until(fitting, timeout=120, interval=0.05)


def finished_job(client: Any, job_id: str, timeout: float = 180) -> dict[str, Any]:
    """Poll a job until it ends; return its resource."""

    def ended() -> dict[str, Any] | None:
        job = client.get(f"/v1/jobs/{job_id}").get_json()
        return job if job["status"] in ("finished", "failed", "canceled") else None

    return wait_until(ended, timeout=timeout, interval=0.1)
