"""Sweeps run without a driver: whoever sees a trial end settles it and launches the
next, until the sweep's trials or time are used up.

- The API starts a sweep: it stores the checked definition, creates the Optuna study
  and launches the first `parallel` trials.
- The worker that fits a trial reports each epoch's objective to the study and stops
  the fit when the pruner says so (`TrialRun`); when the fit ends, however it ends, it
  settles the trial and launches the next (`SweepRunner.trial_ended`).
- Any reader of a sweep (`reconcile`), and the workers' maintenance, settle the trials
  whose job ended without a word: one whose worker died and had no retry left (a job
  with retries resumes, issue 16), or one deleted; it counts as failed and the sweep
  goes on.

Each trial is an ordinary training job of the spec with the trial's parameters set, on
the spec's queue; at most `parallel` of a sweep's trials are queued or running, and a
finished trial queues its successor at the back of the queue, so the trials of two
sweeps on one queue interleave. The slots are claimed and the sweep closed atomically
in Redis (service.store.sweeps); a trial is settled by the one caller that marks it
first (`settle_once`), and leaves the active ones only once its outcome is recorded, so
the sweep closes with every outcome in.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from service.config import Settings
from service.errors import InvalidSpec, JobCanceled, ServiceError, TrialPruned, WorkerLost
from service.limits import unbounded
from service.schemas.spec import load_spec
from service.store.aliases import AliasStore
from service.store.jobs import JobQueue, JobRecord
from service.store.studies import Study
from service.store.sweeps import CLAIM, CLAIM_TTL_S, SweepState, SweepStore
from service.sweeps.ranking import best_trial, better
from service.sweeps.space import apply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """How a trial ended, as the sweep keeps it."""

    status: str  # finished, pruned, failed, canceled
    objective: float | None
    epochs: int
    seconds: float | None
    metrics: dict[str, float | None] | None = None
    error: dict[str, Any] | None = None


def trial_outcome(
    status: str,
    history: dict[str, list[float | None]],
    result: dict[str, Any] | None,
    error: dict[str, Any] | None,
    metric: str,
    seconds: float | None,
) -> Outcome:
    """A trial's outcome from its job's record: a finished trial's objective is the
    metric at the epoch whose weights were kept (early stopping's best, else the last);
    a pruned one's, at the last epoch it ran."""
    values = history.get(metric) or []
    objective = None
    if status == "finished" and values:
        best = (result or {}).get("best_epoch")
        objective = values[best - 1] if best and best <= len(values) else values[-1]
    elif status == "pruned" and values:
        objective = values[-1]
    return Outcome(
        status=status,
        objective=objective,
        epochs=len(history.get("loss", [])),
        seconds=round(seconds, 3) if seconds is not None else None,
        metrics=(result or {}).get("metrics") if status == "finished" else None,
        error=error,
    )


def outcome_of(record: JobRecord, metric: str) -> Outcome:
    seconds = None
    if record.started_at and record.ended_at:
        seconds = (record.ended_at - record.started_at).total_seconds()
    return trial_outcome(
        record.status, record.history, record.result, record.error, metric, seconds
    )


class SweepRunner:
    def __init__(
        self, sweeps: SweepStore, jobs: JobQueue, aliases: AliasStore, settings: Settings
    ) -> None:
        self.sweeps, self.jobs, self.aliases, self.settings = sweeps, jobs, aliases, settings

    def start(self, definition: dict[str, Any]) -> str:
        """Store a checked sweep, create its study and launch its first trials."""
        sweep_id = str(uuid.uuid4())
        self.sweeps.create(sweep_id, definition)
        Study(self.settings, sweep_id, definition).create()
        self.fill(sweep_id)
        return sweep_id

    def fill(self, sweep_id: str) -> None:
        """Launch trials while the sweep has free slots, then close it if it is done."""
        sweep = self.sweeps.get(sweep_id)
        if sweep is None or sweep.closed_at is not None:
            return
        study = Study(self.settings, sweep_id, sweep.definition)
        while (claim := self.sweeps.claim(sweep_id)) is not None:
            self._launch(sweep, study, claim)
        self._close(sweep_id)

    def _launch(self, sweep: SweepState, study: Study, claim: str) -> None:
        definition = sweep.definition
        asked = int(claim.removeprefix(CLAIM).split(":")[0])
        try:
            number, trial_id, params = study.ask(asked)
        except Exception:
            self.sweeps.release(sweep.id, claim)
            raise
        trial = {"number": number, "job_id": None, "status": "queued", "params": params}
        try:
            # The limits were checked at the corners of the space, under the settings
            # of the API that took the sweep; this process (a worker, say) may have
            # other settings. The schema still fills in a choice's defaults.
            spec = load_spec(apply(definition["spec"], params), unbounded(self.settings))
        except InvalidSpec as exc:  # a point inside the space that its corners did not show
            study.tell(number, "failed", None)
            problem = exc.to_problem()
            del problem["status"]
            self._record(sweep.id, trial, Outcome("failed", None, 0, None, error=problem))
            self.sweeps.release(sweep.id, claim)
            return
        spec["name"] = f"{definition['name'] or 'sweep'} trial {number}"
        job_id = str(uuid.uuid4())
        # Active under its job ID before it is queued, so the worker that ends it finds
        # it; until its job exists, `launched_at` tells a reader it is being queued.
        self.sweeps.put_trial(sweep.id, {**trial, "job_id": job_id, "launched_at": time.time()})
        self.sweeps.activate(sweep.id, claim, job_id)
        try:
            self.jobs.submit(
                spec,
                job_id=job_id,
                sweep={
                    "id": sweep.id,
                    "trial": number,
                    "trial_id": trial_id,
                    "params": params,
                    "metric": definition["objective"]["metric"],
                    "deadline": sweep.deadline,
                },
            )
        except Exception:
            self.sweeps.release(sweep.id, job_id)
            study.tell(number, "failed", None)
            raise

    def trial_ended(self, sweep_id: str, job_id: str, ended: Outcome) -> None:
        """A worker's report that it has finished fitting a trial: settle it and go on."""
        if self.sweeps.settle_once(sweep_id, job_id):
            self._settle(sweep_id, job_id, ended)
            self.sweeps.release(sweep_id, job_id)
        self.reconcile(sweep_id)

    def reconcile(self, sweep_id: str) -> SweepState | None:
        """Settle the trials whose jobs ended unreported, stop those past the sweep's
        time, launch what may be launched; returns the sweep as it is then."""
        sweep = self.sweeps.get(sweep_id)
        if sweep is None or sweep.ended:
            return sweep
        if sweep.closed_at is not None:  # being finished, or its closer died doing it
            if time.time() - sweep.closed_at > CLAIM_TTL_S:
                self.sweeps.finish(sweep_id)
            return self.sweeps.get(sweep_id)
        metric = sweep.definition["objective"]["metric"]
        for claim in self.sweeps.stale_claims(sweep):
            self.sweeps.release(sweep_id, claim)
        for member in sweep.active:
            if member.startswith(CLAIM):
                continue
            record = self.jobs.get(member)
            if record is None and self._being_queued(sweep_id, member):
                continue
            if record is None:
                gone = WorkerLost("The trial's job is gone (deleted or expired).").to_problem()
                found = Outcome("failed", None, 0, None, error=gone)
            elif record.ended:
                found = outcome_of(record, metric)
            else:
                if time.time() >= sweep.deadline:
                    self.jobs.cancel(member)
                continue
            if self.sweeps.settle_once(sweep_id, member):
                self._settle(sweep_id, member, found)
                self.sweeps.release(sweep_id, member)
            elif self._recorded(sweep_id, member):  # its settler died before releasing it
                self.sweeps.release(sweep_id, member)
        self.fill(sweep_id)
        return self.sweeps.get(sweep_id)

    def cancel(self, sweep_id: str) -> SweepState | None:
        """Launch nothing more; cancel the queued trials and stop the running ones
        (each stops after its current batch)."""
        self.sweeps.cancel(sweep_id)
        sweep = self.sweeps.get(sweep_id)
        for member in sweep.active if sweep else []:
            if not member.startswith(CLAIM):
                self.jobs.cancel(member)
        return self.reconcile(sweep_id)

    def _being_queued(self, sweep_id: str, job_id: str) -> bool:
        """A trial activated by a launcher that has not queued its job yet (one that
        died doing so is given up after CLAIM_TTL_S, like a claim)."""
        launched = (self._trial(sweep_id, job_id) or {}).get("launched_at")
        return launched is not None and time.time() - launched <= CLAIM_TTL_S

    def _recorded(self, sweep_id: str, job_id: str) -> bool:
        return "objective" in (self._trial(sweep_id, job_id) or {})

    def _trial(self, sweep_id: str, job_id: str) -> dict[str, Any] | None:
        """The record of the sweep's trial that runs as job `job_id`."""
        return next((t for t in self.sweeps.trials(sweep_id) if t["job_id"] == job_id), None)

    def _settle(self, sweep_id: str, job_id: str, ended: Outcome) -> None:
        sweep = self.sweeps.get(sweep_id)
        if sweep is None:
            return
        trial = self._trial(sweep_id, job_id)
        if trial is None:
            return
        study = Study(self.settings, sweep_id, sweep.definition)
        study.tell(trial["number"], ended.status, ended.objective)
        self._record(sweep_id, trial, ended)
        if ended.status == "finished":
            importance = study.importance()
            if importance is not None:
                self.sweeps.set_importance(sweep_id, importance)
        log.info(
            "sweep %s: trial %d %s (objective %s)",
            sweep_id,
            trial["number"],
            ended.status,
            ended.objective,
        )

    def _record(self, sweep_id: str, trial: dict[str, Any], ended: Outcome) -> None:
        self.sweeps.put_trial(
            sweep_id,
            {
                **trial,
                "status": ended.status,
                "objective": ended.objective,
                "epochs": ended.epochs,
                "seconds": ended.seconds,
                "metrics": ended.metrics,
                "error": ended.error,
            },
            ended=True,
        )

    def _close(self, sweep_id: str) -> None:
        trials = self.sweeps.trials(sweep_id)
        final = "finished" if any(t["status"] == "finished" for t in trials) else "failed"
        if not self.sweeps.close(sweep_id, final):
            return
        sweep = self.sweeps.get(sweep_id)
        if sweep is None:
            return
        log.info("sweep %s ended: %s", sweep_id, sweep.state)
        try:
            # Every trial has been told by now (each is released only once settled).
            importance = Study(self.settings, sweep_id, sweep.definition).importance()
            if importance is not None:
                self.sweeps.set_importance(sweep_id, importance)
            if sweep.definition["promote"]:
                self.sweeps.set_result(sweep_id, {"promotion": self._promote(sweep, trials)})
        finally:  # ended, whatever its result: a client waiting on it must not wait on
            self.sweeps.finish(sweep_id)

    def _promote(self, sweep: SweepState, trials: list[dict[str, Any]]) -> dict[str, Any]:
        """Point the sweep's alias at its best trial if that beats the alias's model on
        the objective; say what was done and why."""
        name, objective = sweep.definition["promote"], sweep.definition["objective"]
        metric, direction = objective["metric"], objective["direction"]
        best = best_trial(trials, direction)
        current = self.aliases.get(name)
        kept = {"alias": name, "promoted": False, "job_id": current.job_id if current else None}
        if sweep.state != "finished" or best is None:
            return {**kept, "reason": f"The sweep {sweep.state} without a finished trial."}
        if current is not None:
            if current.job_id == best["job_id"]:
                return {**kept, "reason": "The alias already points at the best trial."}
            record = self.jobs.get(current.job_id)
            theirs = outcome_of(record, metric).objective if record else None
            if theirs is not None and not better(best["objective"], theirs, direction):
                return {
                    **kept,
                    "reason": (
                        f"The best trial's {metric} ({best['objective']:.6g}) does not beat "
                        f"the current model's ({theirs:.6g})."
                    ),
                }
        self.aliases.set(name, best["job_id"])
        if current is None:
            reason = "The alias was created, pointing at the best trial."
        elif theirs is None:
            reason = f"The current model has no {metric} to compare with."
        else:
            reason = (
                f"The best trial's {metric} ({best['objective']:.6g}) beats the current "
                f"model's ({theirs:.6g})."
            )
        return {"alias": name, "promoted": True, "job_id": best["job_id"], "reason": reason}


class TrialRun:
    """The worker's side of a trial: reports each epoch's objective to the study, and
    says when the fit must stop (pruned, or the sweep's time is up)."""

    def __init__(self, settings: Settings, sweeps: SweepStore, meta: dict[str, Any]) -> None:
        self.meta = meta
        sweep = sweeps.get(meta["id"])
        self.study = Study(settings, meta["id"], sweep.definition) if sweep else None
        self.pruned_at: int | None = None

    def epoch(self, epoch: int, logs: dict[str, float | None]) -> None:
        value = logs.get(self.meta["metric"])
        if self.study is None or value is None or self.pruned_at is not None:
            return
        if self.study.report(self.meta["trial_id"], epoch, value):
            self.pruned_at = epoch

    def should_stop(self) -> ServiceError | None:
        if self.pruned_at is not None:
            return TrialPruned(
                f"Pruned after epoch {self.pruned_at}: its {self.meta['metric']} could not "
                "compete with the sweep's other trials."
            )
        if time.time() >= self.meta["deadline"]:
            return JobCanceled("The sweep's time (max_seconds) ran out.")
        if self.study is None:
            return JobCanceled("The sweep was deleted.")
        return None
