"""Artifacts by job ID: one directory per job under the artifact root.

A job's directory appears complete or not at all: everything is written into a hidden
temporary directory beside it, flushed, and renamed into place in one step, so a crash
mid-write never leaves a half model that /predict would load.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

MODEL_FILE = "model.keras"
_TEMP_PREFIX = ".partial-"
# Job IDs are UUIDs; checking the form keeps any path trick out of the store.
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_job_id(value: str) -> bool:
    return bool(JOB_ID.match(value))


class ArtifactStore:
    """Reads and writes job artifacts under `root` (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def job_dir(self, job_id: str) -> Path:
        if not is_job_id(job_id):
            raise ValueError(f"Not a job ID: {job_id!r}")
        return self.root / job_id

    def model_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / MODEL_FILE

    def has_model(self, job_id: str) -> bool:
        return self.model_path(job_id).is_file()

    def recent_job_ids(self, limit: int) -> list[str]:
        """IDs of the jobs with stored models, most recently saved first."""
        if not self.root.is_dir():
            return []
        dirs = [p for p in self.root.iterdir() if is_job_id(p.name) and (p / MODEL_FILE).is_file()]
        dirs.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        return [p.name for p in dirs[:limit]]

    def read(self, job_id: str, document: str) -> Any:
        """One JSON document (`spec`, `history`, `metrics`, `summary`), or None."""
        try:
            return json.loads((self.job_dir(job_id) / f"{document}.json").read_text())
        except FileNotFoundError:
            return None

    def save(self, job_id: str, model: Any, documents: dict[str, Any]) -> Path:
        """Write the model and its JSON documents atomically; return the job directory."""
        final = self.job_dir(job_id)
        self.root.mkdir(parents=True, exist_ok=True)
        temp = self.root / f"{_TEMP_PREFIX}{job_id}-{uuid.uuid4().hex[:8]}"
        temp.mkdir()
        try:
            model.save(temp / MODEL_FILE)
            for name, content in documents.items():
                (temp / f"{name}.json").write_text(json.dumps(content, indent=2))
            _fsync_tree(temp)
            if final.exists():  # a retried job replaces its earlier artifacts whole
                shutil.rmtree(final)
            os.rename(temp, final)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return final

    def remove_partials(self, older_than_s: float) -> int:
        """Delete temporary directories left by a process killed mid-save.

        Only old ones: another worker sharing the root may be saving right now.
        """
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        stale = [
            p
            for p in self.root.iterdir()
            if p.name.startswith(_TEMP_PREFIX) and p.stat().st_mtime < cutoff
        ]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)


def _fsync_tree(directory: Path) -> None:
    # Flush file contents before the rename publishes them, so a power cut cannot leave
    # a renamed directory holding empty files.
    for path in directory.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
