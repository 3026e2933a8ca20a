"""Fixtures that chain: redis_server -> settings -> app -> client, and worker.

Integration tests get their own redis-server (free port, own data directory) and a
real worker process; nothing touches a Redis that anyone else uses. The plain helpers
they use are in tests/helpers.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from tests.helpers import (
    example,
    finished_job,
    free_port,
    gunicorn_app,
    start_redis,
    start_worker,
    stop,
)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server; yields its URL."""
    port = free_port()
    proc = start_redis(tmp_path_factory.mktemp("redis"), port)
    yield f"redis://127.0.0.1:{port}/0"
    stop(proc)


@pytest.fixture(scope="session")
def settings(redis_server: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        redis_url=redis_server,
        artifact_root=str(tmp_path_factory.mktemp("artifacts")),
        job_timeout_s=300,
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Any:
    return create_app(settings)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture(scope="session")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real worker process (python -m worker.main); yields its log file."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = start_worker(settings, log)
    yield log
    stop(proc)


@pytest.fixture(scope="session")
def trained(app: Any, worker: Path) -> Any:
    """`trained(name)`: the finished job of examples/<name>.json, trained once a session."""
    client, done = app.test_client(), {}

    def get(name: str) -> dict[str, Any]:
        if name not in done:
            response = client.post("/v1/jobs", json=example(name))
            assert response.status_code == 202, response.get_json()
            done[name] = finished_job(client, response.get_json()["id"])
            assert done[name]["status"] == "finished", done[name]["error"]
        return done[name]

    return get


@pytest.fixture(scope="session")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real gunicorn server with the project's config; yields its base URL."""
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {"REDIS_URL": settings.redis_url, "ARTIFACT_ROOT": settings.artifact_root}
    with gunicorn_app(env, log) as (base, _):
        yield base
