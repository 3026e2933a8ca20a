"""Sweeps end to end: two real workers on a queue of their own, Optuna's study in the
test's redis-server, real Keras trials.

A sweep is run to the end (best trial, sorted leaderboard, each trial a job that
predicts, importance, promotion), the median pruner stops trials that cannot compete,
cancel stops a running sweep within 2 s, bad sweeps are refused before anything is
queued, and a worker killed mid-trial costs one failed trial, not the sweep.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from service.store.jobs import JobQueue
from tests.helpers import (
    children,
    example,
    finished_job,
    long_digits,
    start_worker,
    stop,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A client and two workers on a queue that no other test's worker serves."""
    mine = replace(settings, queue_name=f"sweeps-{uuid.uuid4().hex[:8]}")
    logs = tmp_path_factory.mktemp("sweep-workers")
    workers = [start_worker(mine, logs / f"worker-{i}.log") for i in range(2)]
    found = {"settings": mine, "client": create_app(mine).test_client(), "workers": workers}
    yield found
    for worker in found["workers"]:
        stop(worker)


def digits_sweep(epochs: int = 4, **extra: Any) -> dict[str, Any]:
    spec = example("digits")
    spec["fit"].update(epochs=epochs, early_stopping=None)
    return {
        "spec": spec,
        "search": {
            "model.layers[0].units": {"int": [16, 64], "log": True},
            "compile.optimizer.learning_rate": {"float": [1e-3, 1e-2], "log": True},
            "fit.batch_size": {"choice": [32, 64]},
        },
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "trials": 4,
        "parallel": 2,
        **extra,
    }


def start(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/sweeps", json=body)
    assert response.status_code == 202, response.get_json()
    assert response.headers["Location"] == f"/v1/sweeps/{response.get_json()['id']}"
    return response.get_json()


def ended(client: Any, sweep_id: str, timeout: float = 240) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        sweep = client.get(f"/v1/sweeps/{sweep_id}").get_json()
        return sweep if sweep["ended_at"] else None

    return wait_until(done, timeout=timeout, interval=0.2)


def test_a_sweep_runs_to_the_end_and_promotes_its_best_trial(own: dict[str, Any]) -> None:
    client = own["client"]
    alias = f"best-{uuid.uuid4().hex[:6]}"
    sweep = start(client, digits_sweep(pruner="none", promote=alias))
    assert sweep["status"] in ("queued", "running")
    assert sweep["counts"]["queued"] + sweep["counts"]["started"] == 2  # `parallel`

    sweep = ended(client, sweep["id"])
    assert sweep["status"] == "finished"
    assert sweep["counts"]["finished"] == 4
    board = sweep["leaderboard"]
    objectives = [t["objective"] for t in board]
    assert objectives == sorted(objectives, reverse=True)  # maximize: best first
    assert sweep["best"] == board[0]
    assert {t["number"] for t in board} == {0, 1, 2, 3}
    assert set(sweep["importance"]) == set(digits_sweep()["search"])

    # Each trial is an ordinary job of the spec with its parameters set.
    jobs = client.get(f"/v1/jobs?sweep_id={sweep['id']}&limit=100").get_json()["jobs"]
    by_id = {j["id"]: j for j in jobs}
    assert set(by_id) == {t["job_id"] for t in board}
    for trial in board:
        job = by_id[trial["job_id"]]
        assert job["sweep"] == {
            "id": sweep["id"],
            "trial": trial["number"],
            "params": trial["params"],
        }
        # The objective is the metric at the kept epoch (no early stopping: the last).
        assert trial["objective"] == job["history"]["val_accuracy"][-1]
        assert trial["metrics"] == job["metrics"]
        summary = client.get(f"/v1/models/{job['id']}/summary").get_json()
        assert summary["layers"][0]["output_shape"] == [
            None,
            trial["params"]["model.layers[0].units"],
        ]

    best = sweep["best"]["job_id"]
    predicted = client.post(f"/v1/models/{best}/predict", json={"instances": [[0.0] * 64]})
    assert predicted.status_code == 200
    assert len(predicted.get_json()["predictions"][0]) == 10
    assert sweep["promotion"]["promoted"] is True
    assert client.get(f"/v1/aliases/{alias}").get_json()["job_id"] == best

    # The events of an ended sweep: every trial, in the order they ended, then the end.
    stream = client.get(f"/v1/sweeps/{sweep['id']}/events").get_data(as_text=True)
    events = [block for block in stream.split("\n\n") if block.startswith("event:")]
    assert [e.split("\n")[0] for e in events] == ["event: trial"] * 4 + ["event: end"]


def test_a_reader_while_a_trial_is_being_queued_leaves_it_alone(
    own: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A trial is active under its job ID just before its job is queued; a reader of
    # the sweep (the dashboard polls every second) that comes in between must not take
    # the job it cannot find yet for one that is gone.
    client, seen = own["client"], []
    # Another app, as another API process would be (and a request context of its own).
    reader = create_app(own["settings"]).test_client()
    queue = JobQueue.submit

    def read_then_queue(self: JobQueue, spec: dict[str, Any], **kwargs: Any) -> Any:
        seen.append(reader.get(f"/v1/sweeps/{kwargs['sweep']['id']}").get_json())
        return queue(self, spec, **kwargs)

    monkeypatch.setattr(JobQueue, "submit", read_then_queue)
    sweep = start(client, digits_sweep(epochs=1, trials=2, parallel=1, pruner="none"))
    monkeypatch.undo()
    assert [s["counts"]["failed"] for s in seen] == [0]
    sweep = ended(client, sweep["id"])
    assert sweep["counts"]["finished"] == 2, sweep["leaderboard"]


def test_promotion_keeps_an_alias_whose_model_is_better(own: dict[str, Any], trained: Any) -> None:
    client = own["client"]
    incumbent = trained("digits")  # the recipe: val_accuracy about 0.97
    alias = f"keep-{uuid.uuid4().hex[:6]}"
    assert client.put(f"/v1/aliases/{alias}", json={"job_id": incumbent["id"]}).status_code in (
        200,
        201,
    )
    body = digits_sweep(epochs=2, trials=1, parallel=1, pruner="none", promote=alias)
    body["search"] = {"compile.optimizer.learning_rate": {"float": [1e-7, 2e-7]}}

    sweep = ended(client, start(client, body)["id"])
    assert sweep["status"] == "finished"
    assert sweep["promotion"]["promoted"] is False
    assert "does not beat" in sweep["promotion"]["reason"]
    assert client.get(f"/v1/aliases/{alias}").get_json()["job_id"] == incumbent["id"]


def test_the_median_pruner_stops_trials_that_cannot_compete(own: dict[str, Any]) -> None:
    client = own["client"]
    body = digits_sweep(epochs=6, trials=4, parallel=1, sampler="random", seed=2)
    # One learning rate that learns, one that cannot (Adam at 1e-7 stays near chance);
    # with this seed the random sampler draws them alternately, the good one first.
    body["search"] = {"compile.optimizer.learning_rate": {"choice": [1e-2, 1e-7]}}
    sweep = ended(client, start(client, body)["id"])

    assert sweep["status"] == "finished"
    pruned = [t for t in sweep["leaderboard"] if t["status"] == "pruned"]
    finished = [t for t in sweep["leaderboard"] if t["status"] == "finished"]
    assert pruned
    assert finished
    assert all(t["params"]["compile.optimizer.learning_rate"] == 1e-7 for t in pruned)
    finished_jobs = [client.get(f"/v1/jobs/{t['job_id']}").get_json() for t in finished]
    for trial in pruned:
        job = client.get(f"/v1/jobs/{trial['job_id']}").get_json()
        assert job["status"] == "pruned"
        epochs = len(job["history"]["loss"])
        assert 3 <= epochs < 6  # never before epoch 3; stopped before the last
        # It was behind the median of the finished trials at the epoch it was pruned.
        at = statistics.median(j["history"]["val_accuracy"][epochs - 1] for j in finished_jobs)
        assert job["history"]["val_accuracy"][-1] < at
        # History kept, no model.
        refused = client.post(f"/v1/models/{job['id']}/predict", json={"instances": [[0.0] * 64]})
        assert refused.status_code == 409
    # The leaderboard puts pruned trials after every finished one.
    statuses = [t["status"] for t in sweep["leaderboard"]]
    assert statuses == sorted(statuses, key=lambda s: s != "finished")


def test_cancel_stops_a_running_sweep_within_2_s(own: dict[str, Any]) -> None:
    client = own["client"]
    body = digits_sweep(trials=6, parallel=2)
    body["spec"] = long_digits()
    body["search"] = {"model.layers[0].units": {"choice": [32, 64]}}
    sweep = start(client, body)

    def fitting() -> bool:
        jobs = client.get(f"/v1/jobs?sweep_id={sweep['id']}").get_json()["jobs"]
        return any(j["progress"]["epoch"] >= 1 for j in jobs)

    wait_until(fitting, timeout=120)
    canceled_at = time.monotonic()
    response = client.post(f"/v1/sweeps/{sweep['id']}/cancel")
    assert response.status_code == 200
    assert response.get_json()["status"] == "canceled"
    sweep = ended(client, sweep["id"], timeout=10)
    assert time.monotonic() - canceled_at <= 2
    assert sweep["status"] == "canceled"
    assert sweep["counts"]["canceled"] == 2
    assert sum(sweep["counts"].values()) == 2
    for trial in sweep["leaderboard"]:
        assert client.get(f"/v1/jobs/{trial['job_id']}").get_json()["status"] == "canceled"
    # Ended: a second cancel is a conflict; deleting it with its trials removes them.
    assert client.post(f"/v1/sweeps/{sweep['id']}/cancel").status_code == 409
    assert client.delete(f"/v1/sweeps/{sweep['id']}?trials=true").status_code == 204
    assert client.get(f"/v1/sweeps/{sweep['id']}").status_code == 404
    for trial in sweep["leaderboard"]:
        assert client.get(f"/v1/jobs/{trial['job_id']}").status_code == 404


def test_max_seconds_stops_the_whole_sweep(own: dict[str, Any]) -> None:
    client = own["client"]
    body = digits_sweep(trials=6, parallel=2, max_seconds=4)
    body["spec"] = long_digits()
    body["search"] = {"model.layers[0].units": {"choice": [32, 64]}}
    started = time.monotonic()
    sweep = ended(client, start(client, body)["id"], timeout=60)
    # The running trials are stopped at the sweep's deadline; no other one starts.
    assert time.monotonic() - started < 4 + 5
    assert sweep["counts"]["canceled"] == 2
    assert sum(sweep["counts"].values()) == 2
    assert sweep["status"] == "failed"  # no trial finished
    for trial in sweep["leaderboard"]:
        job = client.get(f"/v1/jobs/{trial['job_id']}").get_json()
        assert job["status"] == "canceled"


def test_two_sweeps_on_one_queue_take_turns(own: dict[str, Any]) -> None:
    client = own["client"]
    body = digits_sweep(epochs=3, trials=3, parallel=1, pruner="none")
    first, second = start(client, body), start(client, body)
    first, second = ended(client, first["id"]), ended(client, second["id"])

    def starts(sweep: dict[str, Any]) -> list[str]:
        jobs = client.get(f"/v1/jobs?sweep_id={sweep['id']}").get_json()["jobs"]
        return sorted(j["started_at"] for j in jobs)

    # The second sweep's trials ran while the first's did, not after them: each
    # finished trial queues its successor behind the other sweep's.
    assert starts(second)[0] < starts(first)[-1]
    assert starts(first)[0] < starts(second)[-1]


def _bad(change: Any) -> dict[str, Any]:
    body = digits_sweep()
    change(body)
    return body


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (
            _bad(lambda b: b["search"].update({"model.layers[5].units": {"int": [1, 8]}})),
            "search.model.layers[5].units",
            "there is no item 5",
        ),
        (
            _bad(lambda b: b["search"].update({"model.layers[0].unit": {"int": [1, 8]}})),
            "search.model.layers[0].unit",
            "Did you mean 'units'",
        ),
        (
            _bad(
                lambda b: b["search"].update({"compile.optimizer.learning_rate": {"int": [1, 2]}})
            ),
            "search.compile.optimizer.learning_rate",
            "An int range does not fit",
        ),
        (
            _bad(lambda b: b["search"].update({"model.layers[0].units": {"float": [8, 64]}})),
            "search.model.layers[0].units",
            "Not a valid integer",
        ),
        (
            _bad(lambda b: b["search"].update({"model.layers[0].units": {"int": [16, 70000]}})),
            "search.model.layers[0].units",
            "MAX_UNITS",
        ),
        (
            _bad(lambda b: b["search"].update({"fit.epochs": {"choice": [5, 5000]}})),
            "search.fit.epochs",
            "MAX_EPOCHS",
        ),
        (
            _bad(
                lambda b: (
                    b["search"].update(
                        {
                            "model.layers": {
                                "choice": [
                                    [{"type": "Dense", "units": 10}],
                                    [{"type": "Dense", "units": 0}],
                                ]
                            }
                        },
                    )
                    or b["search"].pop("model.layers[0].units")
                )
            ),
            "search.model.layers",
            "model.layers[0].units",
        ),
        (
            _bad(
                lambda b: (
                    b["spec"]["model"]["layers"].insert(0, {"type": "Dense", "units": 8})
                    or b["search"].update(
                        {
                            "model.layers[0].units": {"int": [16, 60000]},
                            "model.layers[1].units": {"int": [16, 60000]},
                        }
                    )
                )
            ),
            "search",
            "MAX_PARAMS",
        ),
        (_bad(lambda b: b.update(trials=101)), "trials", "MAX_TRIALS"),
        (
            _bad(lambda b: b.update(objective={"metric": "val_auc"})),
            "objective.metric",
            "val_accuracy",
        ),
        (_bad(lambda b: b.update(sampler="grid")), "sampler", "float range"),
        (
            _bad(lambda b: b["search"].update({"fit.batch_size": {"choice": [32], "log": True}})),
            "search.fit.batch_size.log",
            "range",
        ),
        (_bad(lambda b: b["spec"]["fit"].update(epochs=0)), "spec.fit.epochs", "MAX_EPOCHS"),
    ],
)
def test_a_bad_sweep_is_refused_naming_the_path_before_anything_is_queued(
    own: dict[str, Any], body: dict[str, Any], path: str, words: str
) -> None:
    client = own["client"]
    jobs_before = len(client.get("/v1/jobs?limit=100").get_json()["jobs"])
    sweeps_before = len(client.get("/v1/sweeps?limit=100").get_json()["sweeps"])
    response = client.post("/v1/sweeps", json=body)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["type"] == "/problems/invalid-sweep"
    assert path in problem["errors"], problem["errors"]
    assert words in " ".join(problem["errors"][path]), problem["errors"]
    assert len(client.get("/v1/jobs?limit=100").get_json()["jobs"]) == jobs_before
    assert len(client.get("/v1/sweeps?limit=100").get_json()["sweeps"]) == sweeps_before


def test_a_sweep_survives_a_worker_killed_mid_trial(own: dict[str, Any], tmp_path: Path) -> None:
    client = own["client"]
    body = digits_sweep(epochs=12, trials=4, parallel=2, pruner="none")
    sweep = start(client, body)

    def both_fitting() -> list[dict[str, Any]] | None:
        jobs = client.get(f"/v1/jobs?sweep_id={sweep['id']}").get_json()["jobs"]
        started = [j for j in jobs if j["status"] == "started" and j["progress"]["epoch"] >= 1]
        return started if len(started) == 2 else None

    wait_until(both_fitting, timeout=120)
    victim = own["workers"][0]
    (horse,) = wait_until(lambda: children(victim.pid), timeout=10)
    for pid in (victim.pid, horse):
        os.kill(pid, signal.SIGKILL)
    victim.wait()
    try:
        sweep = ended(client, sweep["id"], timeout=180)
    finally:  # the module's other tests keep two workers
        own["workers"][0] = start_worker(own["settings"], tmp_path / "replacement.log")

    # The killed trial's job was queued again and resumed from its checkpoint: the sweep
    # lost no trial.
    assert sweep["status"] == "finished"
    assert sweep["counts"]["finished"] == 4
    jobs = client.get(f"/v1/jobs?sweep_id={sweep['id']}").get_json()["jobs"]
    (resumed,) = [j for j in jobs if j["attempts"] == 2]
    assert resumed["resumed_from_epoch"] >= 1
    assert len(resumed["history"]["loss"]) == 12


def test_a_trial_lost_for_good_fails_and_the_sweep_goes_on(
    settings: Settings, tmp_path: Path
) -> None:
    # JOB_RETRIES=0 everywhere (the API queues the first trials, the workers the next):
    # a lost trial is not retried.
    mine = replace(settings, queue_name=f"lost-{uuid.uuid4().hex[:8]}", job_retries=0)
    client = create_app(mine).test_client()
    workers = [
        start_worker(mine, tmp_path / f"worker-{i}.log", env={"JOB_RETRIES": "0"}) for i in range(2)
    ]
    try:
        sweep = start(client, digits_sweep(epochs=12, trials=3, parallel=2, pruner="none"))

        def both_fitting() -> list[dict[str, Any]] | None:
            jobs = client.get(f"/v1/jobs?sweep_id={sweep['id']}").get_json()["jobs"]
            started = [j for j in jobs if j["status"] == "started" and j["progress"]["epoch"] >= 1]
            return started if len(started) == 2 else None

        wait_until(both_fitting, timeout=120)
        victim = workers[0]
        (horse,) = wait_until(lambda: children(victim.pid), timeout=10)
        for pid in (victim.pid, horse):
            os.kill(pid, signal.SIGKILL)
        victim.wait()
        sweep = ended(client, sweep["id"], timeout=180)
    finally:
        for worker in workers:
            stop(worker)
    assert sweep["status"] == "finished"
    assert sweep["counts"]["failed"] == 1
    assert sweep["counts"]["finished"] == 2
    (lost,) = [t for t in sweep["leaderboard"] if t["status"] == "failed"]
    assert lost["error"]["type"] == "/problems/worker-lost"
    assert finished_job(client, lost["job_id"])["status"] == "failed"
