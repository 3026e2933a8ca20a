"""The command-line client's pure parts: event-stream parsing, what it prints, its
errors; and that it needs none of the server's packages."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from rich.console import Console

from client import ApiError, render, sse
from client.api import _problem
from client.cli import main
from service.http import sse as server_event
from tests.helpers import ROOT, free_port

JOB_ID = "40f3a257-5e7b-4bcc-baaf-7be131d0cad5"


def text_of(renderable: Any, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, record=True)
    console.print(renderable)
    return console.export_text()


# Server-sent events


def parsed(*chunks: bytes) -> list[sse.Event]:
    return list(sse.events(sse.lines(chunks)))


def test_the_servers_own_events_parse_back_to_their_data() -> None:
    stream = (
        server_event("epoch", {"epoch": 1, "epochs": 2, "loss": 0.5}, 1)
        + ": keepalive\n\n"
        + server_event("epoch", {"epoch": 2, "epochs": 2, "loss": 0.25}, 2)
        + server_event("end", {"id": JOB_ID, "status": "finished", "name": "é"})
    ).encode()
    events = parsed(stream)
    assert [(e.event, e.id) for e in events] == [("epoch", "1"), ("epoch", "2"), ("end", "2")]
    assert events[1].json() == {"epoch": 2, "epochs": 2, "loss": 0.25}
    assert events[2].json()["name"] == "é"
    # Split anywhere, even inside a UTF-8 character, the stream reads the same.
    assert parsed(*(stream[i : i + 1] for i in range(len(stream)))) == events


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_every_end_of_line_the_spec_allows_is_read(end: bytes) -> None:
    stream = end.join([b"event: epoch", b'data: {"a":', b"data: 1}", b"", b""])
    [event] = parsed(stream[:7], stream[7:])
    assert event.event == "epoch"
    assert event.data == '{"a":\n1}'  # data lines join with a newline


def test_comments_unnamed_and_unfinished_events() -> None:
    events = parsed(b": hello\n\ndata:no space\n\nevent: epoch\ndata: {}")
    # No `event:` field means "message"; an event cut off before its blank line is dropped.
    assert events == [sse.Event("message", "no space", None)]


# What the command prints

SUMMARY = {
    "name": "sequential",
    "input_shape": [None, 64],
    "output_shape": [None, 10],
    "layers": [
        {"name": "dense", "type": "Dense", "output_shape": [None, 512], "params": 33280},
        {"name": "dense_1", "type": "Dense", "output_shape": [None, 10], "params": 5130},
    ],
    "total_params": 38410,
    "trainable_params": 38410,
    "non_trainable_params": 0,
    "size_bytes": 153640,
}


def test_a_summary_reads_as_keras_prints_it() -> None:
    lines = text_of(render.summary(SUMMARY)).splitlines()
    assert lines[0] == 'Model: "sequential"'
    assert cells(lines[2]) == ["Layer (type)", "Output Shape", "Param #"]
    assert cells(lines[4]) == ["dense (Dense)", "(None, 512)", "33,280"]
    assert cells(lines[6]) == ["dense_1 (Dense)", "(None, 10)", "5,130"]
    assert lines[-3:] == [
        " Total params: 38,410 (150.04 KB)",
        " Trainable params: 38,410 (150.04 KB)",
        " Non-trainable params: 0 (0.00 B)",
    ]


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("┃│ ").replace("┃", "│").split("│")]


def test_the_jobs_table_keeps_whole_ids_even_at_80_columns() -> None:
    jobs = [
        {
            "id": JOB_ID,
            "name": "[red]digits[/red]",
            "status": "finished",
            "created_at": "2026-11-23T19:26:04.407389Z",
            "progress": {"epoch": 17, "epochs": 20, "fraction": 1.0},
            "metrics": {"accuracy": 0.9722, "loss": 0.0901},
        }
    ]
    now = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
    wide = text_of(render.jobs(jobs, now), width=140)
    row = next(line for line in wide.splitlines() if JOB_ID in line).split()
    assert row[:6] == [JOB_ID, "[red]digits[/red]", "finished", "17/20", "2h", "ago"]
    assert row[6:] == ["accuracy=0.9722", "loss=0.0901"]
    assert JOB_ID in text_of(render.jobs(jobs, now), width=80)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.09012, "0.0901"), (12, "12.0000"), (0, "0.0000"), (1.5e-5, "1.5000e-05"), (None, "None")],
)
def test_metrics_are_shown_as_keras_fit_shows_them(value: Any, shown: str) -> None:
    assert render.number(value) == shown


def test_a_422_names_each_field_once() -> None:
    errors = {"model.layers[0].activaton": ["Unknown field 'activaton'."]}
    detail = "model.layers[0].activaton: Unknown field 'activaton'."
    shown = text_of(render.problem("Invalid training spec (422)", detail, errors))
    assert shown.splitlines() == [
        "Invalid training spec (422)",
        "  model.layers[0].activaton: Unknown field 'activaton'.",
    ]


def test_an_error_page_from_a_proxy_is_still_an_api_error() -> None:
    response = requests.Response()
    response.status_code, response.reason, response._content = 502, "Bad Gateway", b"<h1>down</h1>"
    error = ApiError(502, _problem(response))
    assert (error.title, error.detail, error.errors, error.is_client_error) == (
        "Bad Gateway",
        "<h1>down</h1>",
        {},
        False,
    )


# Errors that need no server


def test_a_missing_or_broken_file_is_exit_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text('{"model": ')
    assert main(["summary", str(broken)]) == 2
    assert "not valid JSON (line 1" in capsys.readouterr().err


def test_no_service_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--url", url, "jobs"]) == 1
    assert f"Could not reach {url}: Connection refused." in capsys.readouterr().err


def test_the_client_needs_none_of_the_servers_packages() -> None:
    heavy = ["flask", "rq", "redis", "tensorflow", "keras", "numpy", "service"]
    code = (
        f"import sys, client, client.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.replace("'", '"')) == []
