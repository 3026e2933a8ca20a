"""The `keras-service` command and its Python client against the real gunicorn server
and a real worker: the command runs as a subprocess, as a user types it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from client import ApiError, Client
from tests.helpers import EXAMPLES, ROOT, example

pytestmark = pytest.mark.integration

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The console script `make setup` installs; `python -m client` where a venv predates it.
SCRIPT = Path(sys.executable).with_name("keras-service")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "client"]


def cli(server: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KERAS_SERVICE_URL": server}
    env.pop("KERAS_SERVICE_API_KEY", None)
    done = subprocess.run(
        [*COMMAND, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def write(path: Path, content: Any) -> str:
    path.write_text(json.dumps(content))
    return str(path)


def test_submit_watch_predict_summary_and_list(server: str, worker: Any, tmp_path: Path) -> None:
    submitted = cli(server, "submit", str(EXAMPLES / "sum_of_two.json"))
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert UUID.fullmatch(job_id), submitted.stdout  # the ID alone: ID=$(keras-service submit)

    watched = cli(server, "watch", job_id)
    assert watched.returncode == 0, watched.stderr
    assert "Epoch 1/20 - loss: " in watched.stdout
    assert "Epoch 20/20 - loss: " in watched.stdout
    assert re.search(r"Finished after 20 epochs in [\d.]+ s; test metrics: .*mae: ", watched.stdout)

    rows = write(tmp_path / "rows.json", [[10, 2]])
    predicted = cli(server, "predict", job_id, rows)
    assert predicted.returncode == 0, predicted.stderr
    [[twelve]] = json.loads(predicted.stdout)["predictions"]
    assert abs(twelve - 12) <= 1.0  # the recipe test's tolerance
    instances = write(tmp_path / "instances.json", {"instances": [[10, 2], [1, 1]]})
    assert len(json.loads(cli(server, "predict", job_id, instances).stdout)["predictions"]) == 2

    summary = cli(server, "summary", job_id)
    assert "dense (Dense)" in summary.stdout
    assert "Total params: 1,191" in summary.stdout  # 2*50+50 + 50*20+20 + 20+1

    listed = cli(server, "--url", server, "jobs", "--status", "finished", "--limit", "100")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if job_id in line)
    assert "finished" in row
    assert "20/20" in row


def test_summary_of_a_spec_file_is_a_dry_run(server: str) -> None:
    shown = cli(server, "summary", str(EXAMPLES / "digits.json"))
    assert shown.returncode == 0, shown.stderr
    assert "(None, 512)" in shown.stdout
    assert "Total params: 38,410 (150.04 KB)" in shown.stdout


def test_a_diverging_job_makes_watch_fail_with_its_problem(server: str, worker: Any) -> None:
    spec = example("sum_of_two")
    spec["compile"]["optimizer"] = {"type": "sgd", "learning_rate": 100.0}
    job = Client(server).submit(spec)
    watched = cli(server, "watch", job["id"])
    assert watched.returncode == 1
    assert "(failed)" in watched.stderr
    assert "smaller learning rate" in watched.stderr


def test_an_invalid_spec_is_exit_2_naming_the_field(server: str, tmp_path: Path) -> None:
    spec = example("digits")
    spec["model"]["layers"][0]["activaton"] = spec["model"]["layers"][0].pop("activation")
    refused = cli(server, "submit", write(tmp_path / "typo.json", spec))
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "Invalid training spec (422)" in refused.stderr
    assert "model.layers[0].activaton: Unknown field 'activaton'." in refused.stderr
    missing = cli(server, "watch", "00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 2
    assert "No job 00000000-0000-4000-8000-000000000000." in missing.stderr


def test_the_python_client_end_to_end(server: str, worker: Any) -> None:
    client = Client(server, timeout=30)
    spec = {**example("sum_of_two"), "name": "client-e2e"}
    job = client.submit(spec, idempotency_key="client-e2e-1")
    assert client.submit(spec, idempotency_key="client-e2e-1")["id"] == job["id"]

    events = list(client.events(job["id"]))
    assert [e.event for e in events] == ["epoch"] * 20 + ["end"]
    assert [e.json()["epoch"] for e in events[:-1]] == list(range(1, 21))
    assert events[-1].json()["status"] == "finished"
    assert client.job(job["id"], wait=1)["metrics"]["mae"] < 1.0
    # Resuming after epoch 18 sends only what came after it.
    assert [e.id for e in client.events(job["id"], last_event_id="18")] == ["19", "20", "20"]

    [[twelve]] = client.predict(job["id"], [[10, 2]])["predictions"]
    assert abs(twelve - 12) <= 1.0
    assert client.summary(job["id"])["total_params"] == 1191
    assert client.dry_run_summary(example("digits"))["total_params"] == 38410
    assert job["id"] in [j["id"] for j in client.jobs(status="finished", limit=100)]

    with pytest.raises(ApiError) as refused:
        client.cancel(job["id"])
    assert (refused.value.status, refused.value.type) == (409, "/problems/conflict")
    with pytest.raises(ApiError) as invalid:
        client.predict(job["id"], [[1, 2, 3]])
    assert invalid.value.status == 422
    assert list(invalid.value.errors) == ["instances"]

    client.delete(job["id"])
    with pytest.raises(ApiError) as gone:
        client.job(job["id"])
    assert (gone.value.status, gone.value.title) == (404, "Not found")


def test_sweep_shows_the_leaderboard_and_prints_the_best_job(
    server: str, worker: Any, tmp_path: Path
) -> None:
    body = json.loads((EXAMPLES / "digits_sweep.json").read_text())
    body["spec"]["fit"].update(epochs=2, early_stopping=None)
    body.update(trials=2, parallel=1, pruner="none", promote=None)
    swept = cli(server, "sweep", write(tmp_path / "sweep.json", body))
    assert swept.returncode == 0, swept.stderr
    best = swept.stdout.strip().splitlines()[-1]
    assert UUID.fullmatch(best), swept.stdout  # the best trial's job, last, alone
    assert re.search(r"Best: trial \d, val_loss [\d.]+, test metrics .*accuracy: ", swept.stdout)
    assert "2 finished of 2" in swept.stdout
    assert "model.layers[0].units=" in swept.stdout
    summary = cli(server, "summary", best)
    assert summary.returncode == 0, summary.stderr


def test_a_sweep_over_a_missing_path_is_exit_2_naming_it(server: str, tmp_path: Path) -> None:
    body = json.loads((EXAMPLES / "digits_sweep.json").read_text())
    body["search"] = {"model.layers[9].units": {"int": [1, 2]}}
    swept = cli(server, "sweep", write(tmp_path / "sweep.json", body))
    assert swept.returncode == 2
    assert "Invalid sweep (422)" in swept.stderr
    assert "search.model.layers[9].units" in swept.stderr


def test_alias_sets_weighted_targets_and_prints_the_report(server: str, trained: Any) -> None:
    ten, binary = trained("digits")["id"], trained("digits_binary")["id"]
    name = f"cli-{uuid.uuid4().hex[:8]}"
    done = cli(server, "alias", name, "--target", f"{ten}=90", "--target", f"{binary}=10")
    assert done.returncode == 0, done.stderr
    assert ten in done.stdout
    assert binary in done.stdout
    assert "target (primary)" in done.stdout
    assert "90%" in done.stdout
    with urllib.request.urlopen(f"{server}/v1/aliases/{name}") as response:
        alias = json.loads(response.read())
    assert alias["targets"] == [{"job_id": ten, "weight": 90}, {"job_id": binary, "weight": 10}]
    bad = cli(server, "alias", name, "--target", f"{ten}=lots")
    assert bad.returncode == 2
    assert "ID=NUMBER" in bad.stderr
