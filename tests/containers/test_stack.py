"""The images built and the whole stack of docker-compose.yml run in podman: the digits
recipe trained through the containerized API (behind its nginx front), predictions from
the API and from a serving replica, the worker scaled to two, Redis restarted with the
finished job kept, and every process unprivileged on a read-only root file system.

Podman runs the compose file through podman-compose (.venv-deploy): the file users run
is the one tested. Where podman cannot run, scripts/container-env.sh fails and these
tests skip, saying why. Build times, image sizes and the time from `up` to a trained
model are printed (pytest -s shows them) for the README's table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import ROOT, answers, example, free_port, wait_until

# A cold build of the full image takes minutes (pip installs TensorFlow).
pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

COMPOSE = ROOT / ".venv-deploy" / "bin" / "podman-compose"
# The stand-ins scripts/container-env.sh builds from Debian's packages.
BASES = {
    "BASE_IMAGE": "localhost/python-base:bookworm",
    "REDIS_IMAGE": "localhost/redis-base:bookworm",
    "NGINX_IMAGE": "localhost/nginx-base:bookworm",
}
IMAGES = {
    "runtime": "keras-training-service:latest",
    "serving": "keras-training-service-serving:latest",
}
SERVING_IMAGE_MAX_BYTES = 300 * 10**6
APP_UID = "10001"


def podman(*args: str, timeout: float = 120, check: bool = True) -> str:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout.strip()


def podman_ready() -> str | None:
    """Why containers cannot run here, or None."""
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/container-env.sh installs it, as root)"
    missing = [image for image in BASES.values() if subprocess.run(
        ["podman", "image", "exists", image], capture_output=True
    ).returncode != 0]  # fmt: skip
    if missing:
        return f"run scripts/container-env.sh first: no {', '.join(missing)}"
    if not COMPOSE.exists():
        return "podman-compose is missing: make test installs it (requirements-deploy.txt)"
    return None


def request(url: str, body: Any = None, timeout: float = 30) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    sent = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


class Stack:
    """One compose project of our own: its containers, on a free host port."""

    def __init__(self) -> None:
        self.project = f"kts-test-{uuid.uuid4().hex[:6]}"
        self.port = free_port()
        self.env = {**os.environ, **BASES, "FRONT_PORT": str(self.port), "WORKER_THREADS": "1"}
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = 0.0  # when `up` began: the stack's start is part of what is timed

    def up(self) -> None:
        """Start the project, serving replica included, and wait until its front answers."""
        self.started = time.monotonic()
        self.compose("--profile", "serving", "up", "-d")
        wait_until(lambda: answers(f"{self.url}/readyz"), timeout=180, interval=1)

    def compose(self, *args: str, timeout: float = 300) -> str:
        command = [str(COMPOSE), "-p", self.project, "-f", str(ROOT / "docker-compose.yml")]
        result = subprocess.run(
            [*command, *args], capture_output=True, text=True, timeout=timeout, env=self.env
        )
        assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        return result.stdout

    def remove(self) -> None:
        """Everything the project made, gone: podman-compose's `down` leaves the
        replicas that `up --scale` added (and so their network and volumes), and a
        leftover worker would go on retrying Redis, taking CPU from later tests."""
        label = f"label=io.podman.compose.project={self.project}"
        for command in (
            ["ps", "-a", "-q", "--filter", label],
            ["volume", "ls", "-q", "--filter", label],
            ["network", "ls", "-q", "--filter", label],
        ):
            found = podman(*command, check=False).split()
            if found:
                kind = command[0] if command[0] != "ps" else "container"
                podman(kind, "rm", "-f", *found, timeout=300, check=False)

    def containers(self, service: str) -> list[str]:
        names = podman(
            "ps", "--filter", f"label=io.podman.compose.project={self.project}",
            "--filter", f"label=com.docker.compose.service={service}", "--format", "{{.Names}}",
        )  # fmt: skip
        return names.split()

    def one(self, service: str) -> str:
        (name,) = self.containers(service)
        return name


def build(target: str) -> float:
    """Builds one image of the Dockerfile as compose tags it; returns the seconds."""
    started = time.monotonic()
    podman(
        "build", "--build-arg", f"BASE_IMAGE={BASES['BASE_IMAGE']}", "--target", target,
        "-t", IMAGES[target], str(ROOT), timeout=1800,
    )  # fmt: skip
    return time.monotonic() - started


@pytest.fixture(scope="module")
def images() -> dict[str, dict[str, float]]:
    reason = podman_ready()
    if reason:
        pytest.skip(reason)
    found = {}
    for target in ("serving", "runtime"):
        seconds = build(target)
        size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGES[target]))
        found[target] = {"build_s": seconds, "bytes": size}
        print(f"\nimage {IMAGES[target]}: {size / 1e6:.0f} MB, built in {seconds:.0f} s")
    return found


@pytest.fixture(scope="module")
def stack(images: dict[str, Any]) -> Iterator[Stack]:
    running = Stack()
    try:
        running.up()
        yield running
    finally:
        running.remove()


def test_the_serving_image_is_small_and_holds_no_tensorflow(images: dict[str, Any]) -> None:
    assert images["serving"]["bytes"] <= SERVING_IMAGE_MAX_BYTES, images
    probe = (
        "import importlib.util as u; "
        "print(u.find_spec('tensorflow'), u.find_spec('onnxruntime') is not None)"
    )
    out = podman("run", "--rm", IMAGES["serving"], "python", "-c", probe)
    assert out == "None True"


def finished(stack: Stack, job_id: str, timeout: float) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        found = request(f"{stack.url}/v1/jobs/{job_id}?wait=10", timeout=30)[1]
        assert found["status"] not in ("failed", "canceled"), found
        return found if found["status"] == "finished" else None

    return wait_until(ended, timeout=timeout, interval=0.5)


@pytest.fixture(scope="module")
def trained(stack: Stack) -> dict[str, Any]:
    status, job, _ = request(f"{stack.url}/v1/jobs", example("digits"))
    assert status == 202, job

    done = finished(stack, job["id"], timeout=600)
    print(f"\nstack up to a trained digits model: {time.monotonic() - stack.started:.0f} s")
    return done


def test_the_digits_recipe_trains_and_predicts_through_the_front(
    stack: Stack, trained: dict[str, Any]
) -> None:
    assert trained["metrics"]["accuracy"] > 0.9
    status, answer, headers = request(
        f"{stack.url}/v1/models/{trained['id']}/predict", {"instances": [[0.0] * 64] * 3}
    )
    assert status == 200, answer
    assert len(answer["predictions"]) == 3
    assert len(answer["predictions"][0]) == 10
    assert headers["X-Model-Job-ID"] == trained["id"]
    summary = request(f"{stack.url}/v1/models/{trained['id']}/summary")[1]
    assert summary["total_params"] == 38410


def test_a_serving_replica_answers_the_same_without_tensorflow(
    stack: Stack, trained: dict[str, Any]
) -> None:
    replica = stack.one("serving")
    host_port = podman("port", replica, "8000").split(":")[-1]
    url = f"http://127.0.0.1:{host_port}"
    wait_until(lambda: answers(f"{url}/readyz"), timeout=120, interval=1)
    body = {"instances": [[float(i % 17) for i in range(64)]]}
    theirs = request(f"{url}/v1/models/{trained['id']}/predict", body)
    ours = request(f"{stack.url}/v1/models/{trained['id']}/predict", body)
    assert theirs[0] == 200, theirs[1]
    assert theirs[1]["predictions"] == ours[1]["predictions"]
    assert request(f"{url}/v1/jobs", example("digits"))[0] == 404  # no training routes
    modules = podman(
        "exec", replica, "sh", "-c",
        "cat /proc/[0-9]*/maps 2>/dev/null | grep -c -e tensorflow -e libtf || true",
    )  # fmt: skip
    assert modules == "0"


def test_every_process_is_unprivileged_on_a_read_only_root(stack: Stack) -> None:
    for service in ("api", "worker", "serving", "front", "scheduler"):
        name = stack.containers(service)[0]
        users = podman("top", name, "huser").split()[1:]
        assert users, service
        assert set(users) == {APP_UID}, (service, users)
        assert podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", name) == "true"
        refused = podman("exec", name, "sh", "-c", "touch /x 2>&1 || echo refused", check=False)
        assert "refused" in refused, service
    assert (
        podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", stack.one("redis"))
        == "true"
    )


def test_workers_scale_to_two_and_a_restarted_redis_keeps_the_finished_job(
    stack: Stack, trained: dict[str, Any]
) -> None:
    stack.compose("--profile", "serving", "up", "-d", "--scale", "worker=2")
    redis = stack.one("redis")

    def registered() -> int | None:
        count = int(podman("exec", redis, "redis-cli", "scard", "rq:workers"))
        return count if count >= 2 else None

    assert len(stack.containers("worker")) == 2
    assert wait_until(registered, timeout=180, interval=1) == 2

    # Append-only persistence: after a restart the finished job and its model are there.
    podman("restart", "-t", "5", redis)
    wait_until(lambda: answers(f"{stack.url}/readyz"), timeout=120, interval=1)
    job = request(f"{stack.url}/v1/jobs/{trained['id']}")[1]
    assert job["status"] == "finished"
    assert job["metrics"] == trained["metrics"]
    status, answer, _ = request(
        f"{stack.url}/v1/models/{trained['id']}/predict", {"instances": [[0.0] * 64]}
    )
    assert status == 200, answer
    # And both workers come back to Redis and take work again.
    quick = example("sum_of_two")
    quick["fit"]["epochs"] = 2
    status, job, _ = request(f"{stack.url}/v1/jobs", quick)
    assert status == 202, job
    assert finished(stack, job["id"], timeout=300)["metrics"]
