"""The README, followed literally: its `sh` blocks, run in order in one shell against a
real service (gunicorn, a worker, Redis), with the service's address for the
`localhost:8000` of `make run`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.integration

SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def test_the_readmes_commands_run_in_order_and_say_what_it_says(
    server: str, worker: Path, tmp_path: Any
) -> None:
    blocks = SH_BLOCK.findall((ROOT / "README.md").read_text())
    assert len(blocks) >= 10
    address = server.removeprefix("http://")
    script = "set -euo pipefail\n" + "\n".join(
        f"echo '### block {i}'\n{block}" for i, block in enumerate(blocks)
    )
    script = script.replace("localhost:8000", address).replace("127.0.0.1:8000", address)
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={**os.environ, "KERAS_SERVICE_URL": server, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = result.stdout
    assert result.returncode == 0, (out[-3000:], result.stderr[-3000:])
    assert out.count("### block") == len(blocks)
    # What the prose says of the answers.
    assert '"classes":[0]' in out  # the 0 of the walk-through
    assert out.count('"classes":[1]') >= 2  # the 1, by its job and by its alias
    retried = [line for line in out.splitlines() if re.fullmatch(r"[0-9a-f-]{36}", line)]
    assert len(retried) >= 2
    assert retried[0] == retried[1]  # the Idempotency-Key retry answered the same job
    assert "ended: canceled" in out
    assert '"over_limits":{"model.layers":' in out
    assert "\n204\n" in out  # the dataset deleted
    assert "4 trials" in out  # the sweep's trials, each a job
    assert "promoted: True" in out
    assert "Non-trainable params: 33,280" in out  # the fine-tuned model's frozen layer
