"""Artifacts by job ID: one directory per job under the artifact root, which is any
fsspec URL (a plain path, `file://...`, `s3://bucket/prefix`).

A job's model is never visible half-written. On a local disk a directory is written
whole into a hidden temporary directory beside it, flushed, and renamed into place in one
step. An object store has no rename, but a single PUT is atomic to readers: the JSON
documents go up first and the model last, so the model object's existence (`has_model`)
is the commit point and a crash mid-save leaves nothing that /predict would load.

Exports built later (`add_file`) follow the same rule: one file, published whole by a
rename or a single PUT, so a listing never shows one half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

MODEL_FILE = "model.keras"
# The model as API processes serve it (ONNX Runtime), stored beside the Keras file.
ONNX_FILE = "model.onnx"
# Export format -> the artifact a worker builds for it (service.ml.export); named here,
# free of TensorFlow, so the API knows the names without importing the converter.
# `onnx` is written at training time, and built on request for models trained before.
EXPORT_FILES = {
    "savedmodel": "savedmodel.tar.gz",
    "litert": "model.tflite",
    "onnx": ONNX_FILE,
}
# Formats by their former names: TFLite is LiteRT now.
EXPORT_ALIASES = {"tflite": "litert"}
DEFAULT_CACHE = "var/cache"  # as Settings.artifact_cache, for stores that only write
# A running job's latest checkpoint (service.ml.checkpoints): one file per job in this
# directory of the root, outside the job's own directory (which appears only with the
# model, whole).
CHECKPOINTS = "checkpoints"
# Batch predictions' CSV files (service.ml.batch), one per batch, by its ID.
BATCHES = "batch-predictions"
# Sampled requests and answers through each alias, as JSON Lines files.
PAYLOADS_DIR = "payloads"
_TEMP_PREFIX = ".partial-"
# Job IDs (and dataset IDs) are UUIDs; checking the form keeps any path trick out of
# the store.
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

Writer = Callable[[Path], None]


def is_job_id(value: str) -> bool:
    """Whether `value` has the form of a job or dataset ID (a lower-case UUID)."""
    return bool(JOB_ID.match(value))


@dataclass(frozen=True)
class StoredFile:
    """One artifact of a job, as the store lists it."""

    name: str
    size: int
    # Changes whenever the content may have (an object's ETag, a file's mtime and inode):
    # part of the key of its cached sha256 (service.ml.digests).
    version: str


class ArtifactStore:
    """Reads and writes job artifacts under `root` (created on first write).

    Remote roots take their credentials and endpoint from the standard AWS variables
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL ...), read by botocore.
    Models are downloaded once into `cache_dir` for Keras, which loads local files only.
    """

    def __init__(
        self, root: str | os.PathLike[str], cache_dir: str | os.PathLike[str] = DEFAULT_CACHE
    ) -> None:
        # No listings cache: another process (the worker) writes while this one reads.
        self.fs, self.root = url_to_fs(os.fspath(root), use_listings_cache=False)
        self.remote = not isinstance(self.fs, LocalFileSystem)
        self.cache_dir = Path(cache_dir)

    def path(self, *parts: str) -> str:
        """The store path of `parts` under the root (no protocol)."""
        return "/".join((self.root, *parts))

    def job_dir(self, job_id: str) -> str:
        if not is_job_id(job_id):
            raise ValueError(f"Not a job ID: {job_id!r}")
        return self.path(job_id)

    def model_path(self, job_id: str) -> Path:
        """The model file of a job in a local store (see `local_model` for any store)."""
        if self.remote:
            raise ValueError("A remote artifact store has no local model path; use local_model.")
        return Path(self.job_dir(job_id), MODEL_FILE)

    def has_model(self, job_id: str) -> bool:
        return self.fs.isfile(f"{self.job_dir(job_id)}/{MODEL_FILE}")

    def model_stored(self, job_id: str) -> bool:
        """Whether the job's model is stored; unlike has_model, an error asking the
        store (a network failure, a throttled request) is raised, not read as "no":
        only a definite answer may unload a model that is being served."""
        try:
            self.fs.info(f"{self.job_dir(job_id)}/{MODEL_FILE}")
        except FileNotFoundError:
            return False
        return True

    def read_bytes(self, job_id: str, name: str) -> bytes | None:
        """One artifact's bytes, or None when the job has no such file."""
        try:
            return self.fs.cat_file(f"{self.job_dir(job_id)}/{name}")
        except FileNotFoundError:
            return None

    def local_model(self, job_id: str) -> Path:
        """A local file holding the job's model, for Keras to load: the file itself on a
        local root; from a remote one, a copy downloaded once into the cache directory
        (named by the stored object's version, so a replaced model is fetched again).
        Raises FileNotFoundError when the job has no model."""
        if not self.remote:
            return self.model_path(job_id)
        stored = f"{self.job_dir(job_id)}/{MODEL_FILE}"
        folder = self.cache_dir / job_id
        cached = folder / f"{self.fs.ukey(stored)}.keras"
        if cached.is_file():
            return cached
        folder.mkdir(parents=True, exist_ok=True)
        # Downloaded beside its final name and renamed: API processes share the cache,
        # and none may load a copy that is still arriving.
        temp = folder / f"{_TEMP_PREFIX}{uuid.uuid4().hex}"
        try:
            self.fs.get_file(stored, str(temp))
            os.replace(temp, cached)
        finally:
            temp.unlink(missing_ok=True)
        for old in folder.iterdir():  # earlier versions of a model that was replaced
            if old != cached and not old.name.startswith(_TEMP_PREFIX):
                old.unlink(missing_ok=True)
        return cached

    def files(self, job_id: str) -> list[StoredFile]:
        """The job's artifacts, by name: its plain files, never a temporary one (hidden
        names) or a directory. Empty when the job has none."""
        return self._plain_files(self.job_dir(job_id))

    def open(self, job_id: str, name: str) -> IO[bytes]:
        """One artifact opened for reading, local or remote (read in blocks as it goes).
        `name` must come from `files`: it is checked to be a plain file name anyway."""
        return self.fs.open(f"{self.job_dir(job_id)}/{_plain_name(name)}", "rb")

    def add_file(self, job_id: str, name: str, local: Path) -> None:
        """Publish a local file into a stored job's directory as `name`, whole or not at
        all, replacing any file of that name. Raises FileNotFoundError when the job has
        no model (deleted meanwhile): a directory is never brought back for it."""
        if not self.has_model(job_id):
            raise FileNotFoundError(f"Job {job_id} has no stored model.")
        self.put_whole(f"{self.job_dir(job_id)}/{name}", local)

    def put_whole(self, target: str, content: Path | bytes) -> None:
        """Publish a local file (or bytes) at store path `target`, whole or not at all,
        replacing any file there."""
        if self.remote:  # one PUT (or multipart upload): atomic
            if isinstance(content, bytes):
                self.fs.pipe_file(target, content)
            else:
                self.fs.put_file(str(content), target)
            return
        # Written into a temporary directory of the root (same file system, cleaned up
        # by remove_partials after a crash), flushed, then renamed over the target.
        temp = self._temp_dir(Path(target).name)
        try:
            if isinstance(content, bytes):
                (temp / "file").write_bytes(content)
            else:
                shutil.copyfile(content, temp / "file")
            _fsync_tree(temp)
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp / "file", target)
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def payload_path(self, alias: str, name: str) -> str:
        """Where a payload log file of an alias is stored (service.rollouts.payloads)."""
        return self.path(PAYLOADS_DIR, alias, name)

    def payload_files(self, alias: str) -> list[StoredFile]:
        """An alias's payload log files, oldest first (their names start with the time
        they were published)."""
        found = self._plain_files(self.path(PAYLOADS_DIR, alias))
        return [f for f in found if f.name.endswith(".jsonl")]

    def open_payload(self, alias: str, name: str) -> IO[bytes]:
        """One payload log file opened for reading (`name` from `payload_files`)."""
        return self.fs.open(self.payload_path(alias, _plain_name(name)), "rb")

    def recent_job_ids(self, limit: int) -> list[str]:
        """IDs of the jobs with stored models, most recently saved first."""
        saved = self._saved_models()
        return sorted(saved, key=saved.__getitem__, reverse=True)[:limit]

    def read(self, job_id: str, document: str) -> Any:
        """One JSON document (`spec`, `history`, `metrics`, `summary`), or None."""
        try:
            return json.loads(self.fs.cat_file(f"{self.job_dir(job_id)}/{document}.json"))
        except FileNotFoundError:
            return None

    def save(
        self,
        job_id: str,
        model: Any,
        documents: dict[str, Any],
        files: dict[str, bytes] | None = None,
    ) -> str:
        """Write the model, its JSON documents and other `files` (its ONNX form) so that
        the model appears last and whole; return the job directory. A retried job
        replaces its earlier artifacts."""

        def write(directory: Path) -> None:
            for name, content in documents.items():
                (directory / f"{name}.json").write_text(json.dumps(content, indent=2))
            for name, content in (files or {}).items():
                (directory / name).write_bytes(content)
            model.save(directory / MODEL_FILE)

        return self.publish(self.job_dir(job_id), write, commit=MODEL_FILE)

    def publish(self, directory: str, write: Writer, commit: str) -> str:
        """Fill a store directory with the flat files `write(local_dir)` creates, `commit`
        appearing only once all the others are in place (a reader that checks for it
        never sees a half-written directory). Whatever the directory held is replaced."""
        if self.remote:
            with tempfile.TemporaryDirectory() as temp:
                write(Path(temp))
                self.remove(directory, commit)
                files = sorted(Path(temp).iterdir(), key=lambda p: p.name == commit)
                for local in files:  # the commit file last
                    self.fs.put_file(str(local), f"{directory}/{local.name}")
            return directory
        temp = self._temp_dir(Path(directory).name)
        try:
            write(temp)
            _fsync_tree(temp)
            self.remove(directory, commit)
            Path(directory).parent.mkdir(parents=True, exist_ok=True)
            os.rename(temp, directory)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return directory

    def delete(self, job_id: str) -> bool:
        """Remove all of a job's artifacts (its model first), and its checkpoint; True
        if there were any."""
        directory = self.job_dir(job_id)  # checks the ID before anything is removed
        shutil.rmtree(self.cache_dir / job_id, ignore_errors=True)
        self.delete_checkpoint(job_id)
        return self.remove(directory, MODEL_FILE)

    def checkpoint_path(self, job_id: str) -> str:
        self.job_dir(job_id)  # checks the ID
        return self.path(CHECKPOINTS, f"{job_id}.npz")

    def write_checkpoint(self, job_id: str, content: bytes) -> None:
        """Replace a job's checkpoint, whole or not at all: a rename on a local root,
        one PUT on an object store."""
        self.put_whole(self.checkpoint_path(job_id), content)

    def batch_path(self, batch_id: str) -> str:
        """Where a batch prediction's CSV is stored."""
        self.job_dir(batch_id)  # checks the ID (a UUID, as job IDs are)
        return self.path(BATCHES, f"{batch_id}.csv")

    def read_checkpoint(self, job_id: str) -> bytes | None:
        try:
            return self.fs.cat_file(self.checkpoint_path(job_id))
        except FileNotFoundError:
            return None

    def delete_checkpoint(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.checkpoint_path(job_id))

    def expire(self, older_than_s: float, keep: set[str]) -> list[str]:
        """Delete the artifacts of jobs whose model was saved more than `older_than_s`
        ago, except the jobs in `keep`; return the IDs deleted."""
        cutoff = time.time() - older_than_s
        old = [i for i, saved in self._saved_models().items() if saved < cutoff and i not in keep]
        return [job_id for job_id in old if self.delete(job_id)]

    def remove_partials(self, older_than_s: float) -> int:
        """Delete what a process killed mid-save left: temporary directories on a local
        root, job directories without a model on a remote one.

        Only old ones: another worker sharing the root may be saving right now.
        """
        cutoff = time.time() - older_than_s
        if self.remote:
            return self._remove_unfinished_jobs(cutoff)
        if not Path(self.root).is_dir():
            return 0
        stale = [
            p
            for p in Path(self.root).iterdir()
            if p.name.startswith(_TEMP_PREFIX) and p.stat().st_mtime < cutoff
        ]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)

    def remove(self, directory: str, commit: str) -> bool:
        """Delete a store directory so that it never looks committed while it goes."""
        if self.remote:
            found = self.fs.find(directory)
            if not found:
                return False
            committed = [p for p in found if p.rsplit("/", 1)[-1] == commit]
            rest = [p for p in found if p not in committed]
            for batch in (committed, rest):  # the commit file first: then readers see none
                if batch:
                    self.fs.rm(batch)
            return True
        if not Path(directory).exists():
            return False
        # Renamed away in one step, then deleted at leisure (remove_partials finishes
        # the job if this process dies meanwhile).
        trash = self._temp_dir(f"deleted-{Path(directory).name}", create=False)
        os.rename(directory, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def _plain_files(self, directory: str) -> list[StoredFile]:
        """The plain files of a store directory by name, never a temporary one (hidden
        names) or a directory; empty when it does not exist."""
        try:
            entries = self.fs.ls(directory, detail=True)
        except FileNotFoundError:
            return []
        found = []
        for info in entries:
            name = info["name"].rstrip("/").rsplit("/", 1)[-1]
            if info["type"] == "file" and not name.startswith("."):
                found.append(StoredFile(name, int(info["size"]), _version(info)))
        return sorted(found, key=lambda f: f.name)

    def _temp_dir(self, name: str, create: bool = True) -> Path:
        temp = Path(self.root, f"{_TEMP_PREFIX}{name}-{uuid.uuid4().hex[:8]}")
        if create:
            temp.mkdir(parents=True)
        return temp

    def _listing(self) -> dict[str, dict[str, Any]]:
        """Every stored file, by its path relative to the root."""
        found = self.fs.find(self.root, detail=True)
        return {name[len(self.root) + 1 :]: info for name, info in found.items()}

    def _saved_models(self) -> dict[str, float]:
        """When each stored model was saved (epoch seconds), by job ID."""
        saved = {}
        for name, info in self._listing().items():
            job_id, _, file = name.partition("/")
            if file == MODEL_FILE and is_job_id(job_id):
                saved[job_id] = self._modified(info)
        return saved

    def _remove_unfinished_jobs(self, cutoff: float) -> int:
        newest: dict[str, float] = {}
        committed = set()
        for name, info in self._listing().items():
            job_id, _, file = name.partition("/")
            if not is_job_id(job_id):
                continue
            newest[job_id] = max(newest.get(job_id, 0.0), self._modified(info))
            if file == MODEL_FILE:
                committed.add(job_id)
        stale = [i for i, when in newest.items() if i not in committed and when < cutoff]
        for job_id in stale:
            self.remove(self.job_dir(job_id), MODEL_FILE)
        return len(stale)

    def _modified(self, info: dict[str, Any]) -> float:
        # Local files list an `mtime`, S3 objects a `LastModified`; ask others directly.
        if "mtime" in info:
            return float(info["mtime"])
        if "LastModified" in info:
            return info["LastModified"].timestamp()
        return self.fs.modified(info["name"]).timestamp()


def _plain_name(name: str) -> str:
    """`name` if it names a plain file of one directory (no path, not hidden)."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"Not an artifact name: {name!r}")
    return name


def _version(info: dict[str, Any]) -> str:
    if info.get("ETag"):  # S3: the object's entity tag (a new upload, a new tag)
        return str(info["ETag"])
    # Elsewhere all the listing says of the file: a local file's mtime and inode (a
    # replaced file is a new inode), another store's creation time.
    return repr(sorted((key, str(value)) for key, value in info.items()))


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
