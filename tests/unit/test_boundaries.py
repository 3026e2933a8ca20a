"""The architecture's import boundaries: service/ml is pure Keras and NumPy (no web
framework, no job queue), and only the store package and the worker talk to Redis."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from tests.helpers import ROOT

QUEUE_LIBRARIES = {"redis", "rq"}


def test_ml_code_loads_no_web_framework_or_job_queue() -> None:
    modules = sorted(f"service.ml.{p.stem}" for p in (ROOT / "service" / "ml").glob("[a-z]*.py"))
    assert len(modules) > 10
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in ('flask', 'werkzeug', 'redis', 'rq') "
        "if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []


def imported_modules(path: str) -> set[str]:
    """The top-level packages a module's import statements name."""
    tree = ast.parse((ROOT / path).read_text(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_store_and_the_worker_import_redis_or_rq() -> None:
    service = [p.relative_to(ROOT).as_posix() for p in (ROOT / "service").rglob("*.py")]
    outside = [p for p in service if not p.startswith("service/store/")]
    offenders = {p: imported_modules(p) & QUEUE_LIBRARIES for p in outside}
    assert {p: found for p, found in offenders.items() if found} == {}
    store = [p for p in service if p.startswith("service/store/")]
    assert any(imported_modules(p) & QUEUE_LIBRARIES for p in store)  # the check sees them
