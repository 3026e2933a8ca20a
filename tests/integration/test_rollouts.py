"""Rollouts through real gunicorn and real trained models: weighted and sticky routing,
a shadow's agreement, weights changed under load, outcomes fed back with their verdict,
and sampled payload logs that are never half written."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from service.config import Settings
from tests.helpers import children, finished_job, gunicorn_app, submit, wait_until

pytestmark = pytest.mark.integration

ROW = [[0.0] * 64]
RATE = 0.25


@pytest.fixture(scope="module")
def api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """Two gunicorn workers logging a quarter of the predictions through aliases."""
    log = tmp_path_factory.mktemp("rollouts") / "gunicorn.log"
    env = {
        "REDIS_URL": settings.redis_url,
        "ARTIFACT_ROOT": settings.artifact_root,
        "WEB_CONCURRENCY": "2",
        "PAYLOAD_LOG_RATE": str(RATE),
        "PAYLOAD_LOG_MAX_AGE": "0.5",
    }
    with gunicorn_app(env, log) as (base, proc):
        yield base, proc


@pytest.fixture(scope="module")
def models(app: Any, trained: Any, worker: Path) -> dict[str, str]:
    """Two ten-class digits models (one much weaker) and the sum-of-two regression."""
    client = app.test_client()
    weak = json.loads(Path("examples/digits.json").read_text())
    weak["model"]["layers"][0]["units"] = 2
    weak["fit"].update(epochs=1, early_stopping=None)
    weak_job = finished_job(client, submit(client, weak))
    assert weak_job["status"] == "finished"
    return {
        "strong": trained("digits")["id"],
        "weak": weak_job["id"],
        "sum": trained("sum_of_two")["id"],
    }


@pytest.fixture
def alias() -> str:
    return f"roll-{uuid.uuid4().hex[:8]}"


def put(base: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.put(f"{base}/v1/aliases/{name}", json=body, timeout=30)
    assert response.status_code in (200, 201), response.text
    return response.json()


def predict(session: requests.Session, base: str, name: str, **headers: str) -> requests.Response:
    return session.post(
        f"{base}/v1/models/{name}/predict",
        json={"instances": [[random.uniform(0, 16) for _ in range(64)]], "return": "classes"},
        headers=headers,
        timeout=30,
    )


def report(base: str, name: str) -> dict[str, Any]:
    response = requests.get(f"{base}/v1/aliases/{name}/report", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def in_parallel(work: Any, threads: int = 4) -> list[Any]:
    results: list[Any] = [None] * threads
    workers = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, work(i))) for i in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return results


def test_an_80_20_split_lands_within_3_points_and_a_quarter_is_logged(
    api: tuple[str, Any], models: dict[str, str], alias: str
) -> None:
    base, _ = api
    a, b = models["strong"], models["weak"]
    put(base, alias, {"targets": [{"job_id": a, "weight": 80}, {"job_id": b, "weight": 20}]})

    def client(_: int) -> Counter[str]:
        seen: Counter[str] = Counter()
        with requests.Session() as session:
            for _ in range(2_500):
                response = predict(session, base, alias)
                assert response.status_code == 200, response.text
                seen[response.headers["X-Model-Job-ID"]] += 1
        return seen

    seen = sum(in_parallel(client), Counter())
    assert set(seen) == {a, b}
    assert abs(seen[a] / 10_000 - 0.8) <= 0.03, seen

    def counted() -> dict[str, Any] | None:
        found = {m["job_id"]: m for m in report(base, alias)["models"]}
        return found if found[a]["requests"] + found[b]["requests"] == 10_000 else None

    found = wait_until(counted, timeout=10, interval=0.3)
    assert found[a]["requests"] == seen[a]
    assert found[a]["primary"] is True
    assert found[a]["error_rate"] == 0
    assert found[a]["latency_ms"]["p50"] > 0
    assert sum(found[a]["predictions"]["classes"].values()) == pytest.approx(1)

    def logged() -> list[dict[str, Any]] | None:
        listing = requests.get(f"{base}/v1/aliases/{alias}/payloads", timeout=30).json()
        records = []
        for file in listing["files"]:
            text = requests.get(f"{base}{file['url']}", timeout=30).text
            records += [json.loads(line) for line in text.splitlines()]
        share = len(records) / 10_000
        return records if abs(share - RATE) <= 0.02 else None

    records = wait_until(logged, timeout=10, interval=0.5)
    assert {r["job_id"] for r in records} == {a, b}
    assert all(len(r["inputs"]) == 1 and len(r["outputs"][0]) == 10 for r in records)


def test_a_routing_key_always_reaches_one_target(
    api: tuple[str, Any], models: dict[str, str], alias: str
) -> None:
    base, _ = api
    put(
        base,
        alias,
        {
            "targets": [
                {"job_id": models["strong"], "weight": 50},
                {"job_id": models["weak"], "weight": 50},
            ]
        },
    )
    reached: dict[str, set[str]] = {}
    with requests.Session() as session:
        for user in range(40):
            for _ in range(5):
                response = predict(session, base, alias, **{"X-Routing-Key": f"user-{user}"})
                reached.setdefault(f"user-{user}", set()).add(response.headers["X-Model-Job-ID"])
    assert all(len(jobs) == 1 for jobs in reached.values()), reached
    assert set().union(*reached.values()) == {models["strong"], models["weak"]}


def test_a_shadow_sees_every_request_and_its_agreement_is_reported(
    api: tuple[str, Any], models: dict[str, str], alias: str
) -> None:
    base, _ = api
    strong, weak = models["strong"], models["weak"]
    put(base, alias, {"job_id": strong, "shadow": {"job_id": weak, "percent": 100}})
    with requests.Session() as session:
        answers = [predict(session, base, alias) for _ in range(300)]
    assert all(r.headers["X-Model-Job-ID"] == strong for r in answers)

    def mirrored() -> dict[str, Any] | None:
        shadow = next(m for m in report(base, alias)["models"] if m["role"] == "shadow")
        return shadow if shadow["requests"] + shadow["dropped"] == 300 else None

    shadow = wait_until(mirrored, timeout=10, interval=0.3)
    assert shadow["job_id"] == weak
    assert shadow["agreement"]["rows"] == shadow["requests"] > 0
    assert 0 <= shadow["agreement"]["rate"] < 1  # a 2-unit model is not the 512-unit one
    metrics = requests.get(f"{base}/metrics", timeout=30).text
    assert (
        f'keras_service_shadow_rows_total{{alias="{alias}",job_id="{weak}",result="compared"}}'
        in metrics
    )


def test_weights_changed_ten_times_under_load_fail_no_request(
    api: tuple[str, Any], models: dict[str, str], alias: str
) -> None:
    base, _ = api
    a, b = models["strong"], models["weak"]
    put(base, alias, {"job_id": a})
    done = threading.Event()

    def client(_: int) -> Counter[int]:
        statuses: Counter[int] = Counter()
        with requests.Session() as session:
            while not done.is_set():
                statuses[predict(session, base, alias).status_code] += 1
        return statuses

    results: list[Counter[int]] = []
    runner = threading.Thread(target=lambda: results.extend(in_parallel(client)))
    runner.start()
    try:
        for i in range(10):
            weight = 10 * (i + 1)
            put(
                base,
                alias,
                {"targets": [{"job_id": a, "weight": 100}, {"job_id": b, "weight": weight}]},
            )
            time.sleep(0.3)
        put(base, alias, {"job_id": b})  # promoted
        time.sleep(0.3)
        put(base, alias, {"job_id": a})  # and rolled back
        time.sleep(0.3)
    finally:
        done.set()
        runner.join()
    statuses = sum(results, Counter())
    assert set(statuses) == {200}, statuses
    history = requests.get(f"{base}/v1/aliases/{alias}", timeout=30).json()["history"]
    assert len(history) == 13
    assert [h["job_id"] for h in history[:2]] == [a, b]


def feed(base: str, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    response = requests.post(f"{base}/v1/feedback", json={"feedback": outcomes}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("primary_right", "candidate_right", "verdict"), [(0.6, 0.9, "better"), (0.9, 0.6, "worse")]
)
def test_outcomes_fed_back_give_the_candidate_its_verdict(
    api: tuple[str, Any],
    models: dict[str, str],
    alias: str,
    primary_right: float,
    candidate_right: float,
    verdict: str,
) -> None:
    base, _ = api
    a, b = models["strong"], models["weak"]
    put(base, alias, {"targets": [{"job_id": a, "weight": 50}, {"job_id": b, "weight": 49}]})
    answered = []
    with requests.Session() as session:
        for _ in range(600):
            response = predict(session, base, alias)
            answered.append(
                (
                    response.headers["X-Request-ID"],
                    response.headers["X-Model-Job-ID"],
                    response.json()["classes"][0],
                )
            )
    # Exact rates, not drawn ones: of every 10 outcomes of a model, rate * 10 are right,
    # so the first 10 of each (fed first) cannot settle the test by chance.
    by_job: dict[str, list[dict[str, Any]]] = {a: [], b: []}
    for request_id, job_id, predicted in answered:
        rate = primary_right if job_id == a else candidate_right
        right = len(by_job[job_id]) % 10 < round(rate * 10)
        label = predicted if right else (predicted + 1) % 10
        by_job[job_id].append({"request_id": request_id, "label": label})
    outcomes = by_job[a][:10] + by_job[b][:10] + by_job[a][10:] + by_job[b][10:]
    time.sleep(1.5)  # records reach Redis within a second of the answer
    first = feed(base, outcomes[:20])
    assert first["recorded"] == 20
    early = report(base, alias)["comparison"]
    assert early["verdict"] == "undecided"
    assert early["more_outcomes_needed"] > 0
    assert early["summary"].startswith("No difference yet")
    assert feed(base, outcomes[20:])["recorded"] == 580
    again = feed(base, outcomes[:1])
    assert again["results"][0]["status"] == "duplicate"

    comparison = report(base, alias)["comparison"]
    assert comparison["primary"] == a
    assert comparison["candidate"] == b
    assert comparison["verdict"] == verdict
    assert comparison["p_value"] < 1e-6
    assert comparison["summary"].startswith(f"{b[:8]} {verdict} than {a[:8]}")
    scored = {m["job_id"]: m["outcomes"] for m in report(base, alias)["models"]}
    low, high = scored[b]["ci95"]
    assert low <= candidate_right <= high + 0.05


def test_regression_outcomes_are_tested_on_their_errors(
    api: tuple[str, Any], models: dict[str, str], alias: str
) -> None:
    base, _ = api
    put(base, alias, {"job_id": models["sum"]})
    with requests.Session() as session:
        response = session.post(
            f"{base}/v1/models/{alias}/predict",
            json={"instances": [[1.0, 2.0], [3.0, 4.0]]},
            timeout=30,
        )
    request_id = response.headers["X-Request-ID"]
    time.sleep(1.5)
    wrong = requests.post(
        f"{base}/v1/feedback", json={"request_id": request_id, "labels": [3.0]}, timeout=30
    )
    assert wrong.status_code == 422
    assert "one label per predicted row" in json.dumps(wrong.json()["errors"])
    unknown = requests.post(
        f"{base}/v1/feedback", json={"request_id": "nope", "label": 3.0}, timeout=30
    )
    assert unknown.status_code == 404
    ok = requests.post(
        f"{base}/v1/feedback", json={"request_id": request_id, "labels": [3.0, 7.0]}, timeout=30
    )
    assert ok.status_code == 200, ok.text
    predicted = [row[0] for row in response.json()["predictions"]]
    scored = next(m for m in report(base, alias)["models"] if m["job_id"] == models["sum"])
    expected = (abs(predicted[0] - 3.0) + abs(predicted[1] - 7.0)) / 2
    assert scored["outcomes"]["mae"] == pytest.approx(expected, rel=1e-5)
    assert scored["outcomes"]["count"] == 2


def test_killing_a_worker_while_it_logs_leaves_only_readable_files(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, models: dict[str, str], alias: str
) -> None:
    log = tmp_path_factory.mktemp("crash") / "gunicorn.log"
    env = {
        "REDIS_URL": settings.redis_url,
        "ARTIFACT_ROOT": settings.artifact_root,
        "PAYLOAD_LOG_RATE": "1",
        "PAYLOAD_LOG_MAX_BYTES": "4096",
    }
    with gunicorn_app(env, log) as (base, proc):
        put(base, alias, {"job_id": models["strong"]})
        stop = threading.Event()

        def load() -> None:
            with requests.Session() as session:
                while not stop.is_set():
                    with contextlib.suppress(requests.RequestException):
                        predict(session, base, alias)

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(2)
        for pid in children(proc.pid):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        stop.set()
        loader.join()
        wait_until(lambda: children(proc.pid), timeout=30)
        listing = wait_until(
            lambda: requests.get(f"{base}/v1/aliases/{alias}/payloads", timeout=30).json()["files"],
            timeout=30,
        )
        for file in listing:
            lines = requests.get(f"{base}{file['url']}", timeout=30).text.splitlines()
            assert lines
            assert all(json.loads(line)["alias"] == alias for line in lines)
    leftovers = [
        p
        for p in Path(settings.artifact_root, "payloads", alias).iterdir()
        if p.name.startswith(".")
    ]
    assert leftovers == []


def test_an_alias_is_refused_a_shadow_among_its_targets_and_unknown_jobs(
    api: tuple[str, Any], models: dict[str, str], alias: str
) -> None:
    base, _ = api
    a = models["strong"]
    same = requests.put(
        f"{base}/v1/aliases/{alias}",
        json={"job_id": a, "shadow": {"job_id": a, "percent": 10}},
        timeout=30,
    )
    assert same.status_code == 422
    assert "shadow.job_id" in same.json()["errors"]
    twice = requests.put(
        f"{base}/v1/aliases/{alias}",
        json={"targets": [{"job_id": a, "weight": 1}, {"job_id": a, "weight": 2}]},
        timeout=30,
    )
    assert twice.status_code == 422
    missing = requests.put(
        f"{base}/v1/aliases/{alias}",
        json={"job_id": a, "shadow": {"job_id": str(uuid.uuid4()), "percent": 10}},
        timeout=30,
    )
    assert missing.status_code == 404
    put(base, alias, {"job_id": a, "shadow": {"job_id": models["weak"], "percent": 5}})
    deleting = requests.delete(f"{base}/v1/jobs/{models['weak']}", timeout=30)
    assert deleting.status_code == 409
    assert alias in deleting.json()["detail"]
    requests.delete(f"{base}/v1/aliases/{alias}", timeout=30)
