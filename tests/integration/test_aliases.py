"""Model aliases: a stable name that every predict and summary route accepts, moved from
job to job under live traffic without a failed request."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from typing import Any

import pytest

from tests.helpers import wait_until

pytestmark = pytest.mark.integration

ROWS = {"instances": [[0.0] * 64, [8.0] * 64]}


def call(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def alias() -> str:
    return f"digits-{uuid.uuid4().hex[:8]}"


def test_an_alias_names_a_model_on_every_route(client: Any, trained: Any, alias: str) -> None:
    ten, binary = trained("digits"), trained("digits_binary")
    created = client.put(f"/v1/aliases/{alias}", json={"job_id": ten["id"]})
    assert created.status_code == 201
    assert created.headers["Location"] == f"/v1/aliases/{alias}"
    by_alias = client.post(f"/v1/models/{alias}/predict", json=ROWS).get_json()
    by_id = client.post(f"/v1/models/{ten['id']}/predict", json=ROWS).get_json()
    assert by_alias == by_id
    summary = client.get(f"/v1/models/{alias}/summary").get_json()
    assert summary["total_params"] == 38_410
    assert (
        client.post(f"/v1/models/{alias}:predict", json=ROWS).get_json()["predictions"]
        == (by_id["predictions"])
    )
    assert client.get(f"/v2/models/{alias}/ready").get_json() == {"name": alias, "ready": True}

    moved = client.put(f"/v1/aliases/{alias}", json={"job_id": binary["id"]})
    assert moved.status_code == 200
    assert moved.get_json()["job_id"] == binary["id"]
    assert [h["job_id"] for h in moved.get_json()["history"]] == [binary["id"], ten["id"]]
    after = client.post(f"/v1/models/{alias}/predict", json=ROWS).get_json()
    assert len(after["predictions"][0]) == 1  # the binary model's one sigmoid unit

    listed = {a["name"]: a for a in client.get("/v1/aliases").get_json()["aliases"]}
    assert listed[alias]["job_id"] == binary["id"]
    assert len(listed[alias]["history"]) == 2
    assert client.delete(f"/v1/aliases/{alias}").status_code == 204
    gone = client.post(f"/v1/models/{alias}/predict", json=ROWS)
    assert gone.status_code == 404
    assert alias in gone.get_json()["detail"]


def test_an_alias_points_only_at_a_finished_model(client: Any, trained: Any, alias: str) -> None:
    unknown = client.put(f"/v1/aliases/{alias}", json={"job_id": str(uuid.uuid4())})
    assert unknown.status_code == 404
    finished = trained("sum_of_two")
    bad_names = ["Digits", "9lives", str(uuid.uuid4()), "a" * 64]
    for name in bad_names:
        response = client.put(f"/v1/aliases/{name}", json={"job_id": finished["id"]})
        assert response.status_code == 422, name
        assert "name" in response.get_json()["errors"]
    missing = client.put(f"/v1/aliases/{alias}", json={})
    assert missing.status_code == 422
    assert client.get(f"/v1/aliases/{alias}").status_code == 404


def test_moving_an_alias_under_load_fails_no_request(server: str, trained: Any, alias: str) -> None:
    ten, binary = trained("digits"), trained("digits_binary")
    assert call("PUT", f"{server}/v1/aliases/{alias}", {"job_id": ten["id"]})[0] == 201
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    done = threading.Event()

    def predict_forever() -> None:
        while not done.is_set():
            status, body = call("POST", f"{server}/v1/models/{alias}/predict", ROWS)
            width = len(body["predictions"][0]) if status == 200 else None
            with lock:
                outcomes[f"{status}:{width}"] += 1

    threads = [threading.Thread(target=predict_forever) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(10):
            target = (binary if i % 2 == 0 else ten)["id"]
            assert call("PUT", f"{server}/v1/aliases/{alias}", {"job_id": target})[0] == 200
            time.sleep(0.3)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    # Every answer came from one of the two models; none failed.
    assert set(outcomes) <= {"200:10", "200:1"}, outcomes
    assert outcomes["200:10"] > 0
    assert outcomes["200:1"] > 0
    # The last move (to the ten-class model) reaches every API process within a second.
    wait_until(
        lambda: all(
            len(call("POST", f"{server}/v1/models/{alias}/predict", ROWS)[1]["predictions"][0])
            == 10
            for _ in range(5)
        ),
        timeout=3,
        interval=0.2,
    )


def test_putting_an_alias_to_its_own_job_changes_nothing(
    client: Any, trained: Any, alias: str
) -> None:
    ten = trained("digits")
    first = client.put(f"/v1/aliases/{alias}", json={"job_id": ten["id"]}).get_json()
    again = client.put(f"/v1/aliases/{alias}", json={"job_id": ten["id"].upper()})
    assert again.status_code == 200
    assert again.get_json() == first
    assert len(client.get(f"/v1/aliases/{alias}").get_json()["history"]) == 1
    client.delete(f"/v1/aliases/{alias}")
