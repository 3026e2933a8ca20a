"""API keys against the real Redis and a trained model: a read key predicts and
follows jobs, only a full key submits them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from tests.helpers import example

pytestmark = pytest.mark.integration

READER = "reader-key-0123456789"
ADMIN = "admin-key-0123456789ab"


def test_scopes_with_real_jobs_and_models(settings: Settings, trained: Any) -> None:
    digits = trained("digits")
    keyed = replace(settings, api_keys=f"{READER}:read,{ADMIN}:full")
    client = create_app(keyed).test_client()
    read, full = ({"Authorization": f"Bearer {k}"} for k in (READER, ADMIN))
    rows = {"instances": [[0.0] * 64]}

    assert client.post(f"/v1/models/{digits['id']}/predict", json=rows).status_code == 401
    assert (
        client.post(f"/v1/models/{digits['id']}/predict", json=rows, headers=read).status_code
        == 200
    )
    assert client.get(f"/v1/jobs/{digits['id']}", headers=read).get_json()["status"] == "finished"
    assert client.get(f"/v1/models/{digits['id']}/summary", headers=read).status_code == 200

    spec = example("sum_of_two")
    assert client.post("/v1/jobs", json=spec, headers=read).status_code == 403
    submitted = client.post("/v1/jobs", json=spec, headers=full)
    assert submitted.status_code == 202
    assert client.get(submitted.headers["Location"], headers=read).status_code == 200
