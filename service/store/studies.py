"""A sweep's Optuna study, kept in Redis by Optuna's journal storage (its Redis backend,
one journal per sweep under `keys.study`), so that the API process that creates a
sweep, and any worker on any machine that runs one of its trials, work on one study.

Optuna is used ask-and-tell: whoever launches a trial asks the study for its
parameters; the worker that fits it reports the objective after each epoch and asks
the pruner whether to go on; whoever settles it tells the study how it ended. Samplers
and pruners keep no state of their own between processes (they read the trials from
the storage), so a new one is made for each call, its seed moved on by the number of
trials asked so far: the same seed gives the same sweep, and no two asks draw alike.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalRedisBackend
from optuna.trial import TrialState

from service.config import Settings
from service.store import keys, translated
from service.sweeps.space import grid_values

optuna.logging.set_verbosity(logging.WARNING)
# Optuna marks its Redis journal experimental (since 3.1); it is the storage that lets
# any process take a sweep on, and is pinned with Optuna in requirements.txt.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
# The median pruner compares a trial with the completed ones from this epoch on (none
# is pruned before it): the first epochs of a good model and a poor one look alike.
WARMUP_EPOCHS = 3
# Parameter importances are computed once this many trials have completed.
IMPORTANCE_AFTER = 4
STATES = {"finished": TrialState.COMPLETE, "pruned": TrialState.PRUNED}


@translated
class Study:
    def __init__(self, settings: Settings, sweep_id: str, definition: dict[str, Any]) -> None:
        self.sweep_id = sweep_id
        self.definition = definition
        self.storage = JournalStorage(
            JournalRedisBackend(settings.redis_url, prefix=keys.study(sweep_id))
        )
        self._study: optuna.Study | None = None

    def create(self) -> None:
        optuna.create_study(
            storage=self.storage,
            study_name=self.sweep_id,
            direction=self.definition["objective"]["direction"],
        )

    def ask(self, asked: int) -> tuple[int, int, dict[str, Any]]:
        """A new trial's number, Optuna ID and parameters (as JSON values); `asked` is
        how many trials were asked before it."""
        study = self._load(self._sampler(asked))
        trial = study.ask(self.distributions())
        params = {d["path"]: _value(d, trial.params[d["path"]]) for d in self.definition["space"]}
        return trial.number, trial._trial_id, params

    def report(self, trial_id: int, epoch: int, value: float) -> bool:
        """Report a trial's objective after an epoch; True if the pruner stops it."""
        trial = optuna.trial.Trial(self._load(), trial_id)
        trial.report(value, epoch)
        return trial.should_prune()

    def tell(self, number: int, status: str, value: float | None) -> None:
        """Tell the study how a trial ended: `finished` with its objective, `pruned`
        (at its last reported value), or anything else as failed."""
        state = STATES.get(status, TrialState.FAIL)
        if state is TrialState.COMPLETE and value is None:
            state = TrialState.FAIL
        try:
            self._load().tell(
                number,
                value if state is TrialState.COMPLETE else None,
                state=state,
                skip_if_finished=True,
            )
        except ValueError:  # a pruned trial that never reported a value
            self._load().tell(number, state=TrialState.FAIL, skip_if_finished=True)

    def importance(self) -> dict[str, float] | None:
        """Each parameter's importance for the objective (fANOVA), once enough trials
        have completed; None before, or if it cannot be told (a constant parameter)."""
        study = self._load()
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(completed) < IMPORTANCE_AFTER:
            return None
        try:
            found = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
            )
        except (ValueError, RuntimeError):
            return None
        return {name: round(float(value), 4) for name, value in found.items()}

    def distributions(self) -> dict[str, BaseDistribution]:
        """Optuna's distribution of each searched path: a choice is drawn as the index
        of its value, since its values may be any JSON."""
        found: dict[str, BaseDistribution] = {}
        for d in self.definition["space"]:
            if d["kind"] == "int":
                found[d["path"]] = IntDistribution(int(d["low"]), int(d["high"]), log=d["log"])
            elif d["kind"] == "float":
                found[d["path"]] = FloatDistribution(d["low"], d["high"], log=d["log"])
            else:
                found[d["path"]] = CategoricalDistribution(list(range(len(d["choices"]))))
        return found

    def _load(self, sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
        if sampler is not None or self._study is None:
            self._study = optuna.load_study(
                study_name=self.sweep_id,
                storage=self.storage,
                sampler=sampler or optuna.samplers.RandomSampler(),
                pruner=self._pruner(),
            )
        return self._study

    def _sampler(self, asked: int) -> optuna.samplers.BaseSampler:
        seed = self.definition["seed"] + asked
        kind = self.definition["sampler"]
        if kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if kind == "grid":
            grid = {d["path"]: grid_values(d) for d in self.definition["space"]}
            return optuna.samplers.GridSampler(grid, seed=seed)
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=startup_trials(self.definition["trials"]),
            # Parallel trials: a running one counts as the worst result so far, so two
            # workers asking at once are not sent to the same place.
            constant_liar=True,
        )

    def _pruner(self) -> optuna.pruners.BasePruner:
        kind = self.definition["pruner"]
        if kind == "median":
            return optuna.pruners.MedianPruner(
                n_startup_trials=startup_trials(self.definition["trials"], most=5),
                n_warmup_steps=WARMUP_EPOCHS,
            )
        if kind == "hyperband":
            return optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=self.definition["spec"]["fit"]["epochs"]
            )
        return optuna.pruners.NopPruner()


def startup_trials(trials: int, most: int = 10) -> int:
    """Trials drawn at random (TPE) or completed unpruned (the median pruner) before the
    search learns from the others: Optuna's defaults (10, 5), fewer in a small sweep."""
    return max(1, min(most, trials // 3))


def _value(dimension: dict[str, Any], drawn: Any) -> Any:
    if dimension["kind"] == "choice":
        return dimension["choices"][drawn]
    return int(drawn) if dimension["kind"] == "int" else float(drawn)
