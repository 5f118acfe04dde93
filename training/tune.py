"""KerasTuner search over the per-layer space of `search_space`, then full CV of the winner.

Each trial trains on the export minus a few held-out *subjects* and is scored by validation
accuracy on those subjects. The search lives in `<out>/tune-<dataset id>-<algorithm>/` and
resumes from there after an interruption (KerasTuner `overwrite=False`). A time budget stops
it cleanly: past the deadline the oracle hands out no new trial and the running one ends its
epoch loop. Distributed tuning is KerasTuner's own chief/worker mode (training/README.md).
"""

from __future__ import annotations

import csv
import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training import contract, data
from training.backbones import BACKBONES
from training.config import Config, preset
from training.config import save as save_config
from training.search_space import config_from_hp

ALGORITHMS = ("hyperband", "bayesian", "random")
OBJECTIVE = "val_accuracy"
TUNING_VALIDATION_FRACTION = 0.2


class TuneError(ValueError):
    """Bad tuning arguments (algorithm, trials, budget)."""


@dataclass
class TuneResult:
    tuning_dir: Path
    trials: int
    best_values: dict
    run: object | None  # train.RunResult; None for workers and search-only runs


def tune(dataset: str | Path, *, trials: int = 20, max_minutes: float | None = None,
         algorithm: str = "bayesian", epochs: int | None = None, folds: int | None = None,
         out_dir: str | Path = "runs", seed: int = 0, base: Config | None = None,
         search_only: bool = False, verbose: int = 2, backbones: tuple[str, ...] = BACKBONES,
         log: Callable[[str], None] | None = None) -> TuneResult:
    """Search, write trials.csv and best_config.json, then (unless `search_only`)
    cross-validate the best config into a run folder. `backbones` limits the search (e.g.
    `("none",)` for a model free of FER2013-derived weights). The tuning folder's
    progress.jsonl gets `search_start`, one `trial` event per finished trial, `search_end`."""
    from training import train as train_module

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    _check_arguments(algorithm, trials, max_minutes, backbones)
    # The search covers both backbones; `base` fixes the rest (an ensemble base means the
    # scratch preset's settings: a trial is one network).
    base = base if base is not None and not base.is_ensemble else preset("scratch")
    if epochs is not None:
        base = base.with_epochs(epochs)
    export = data.load_export(dataset)
    data.merge_folds(export.folds, folds)  # a bad --folds fails now, not after the search
    tuning_dir = Path(out_dir) / f"{contract.TUNING_PREFIX}{_dataset_key(export)}-{algorithm}"
    search = Search(algorithm, trials, max_minutes, seed, tuple(backbones), verbose)
    tuner = search.run(export, base, tuning_dir, log)
    if tuner is None:  # a distributed worker: the chief reports
        return TuneResult(tuning_dir, 0, {}, None)
    done = write_trials_csv(tuner.oracle, tuning_dir / contract.TRIALS_FILE)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    best = config_from_hp(best_trial.hyperparameters, base, tuple(backbones))
    save_config(best, tuning_dir / contract.BEST_CONFIG_FILE)
    log(f"best trial {best_trial.trial_id}: {OBJECTIVE} {best_trial.score:.3f}; "
        f"config in {tuning_dir / contract.BEST_CONFIG_FILE}")
    values = dict(best_trial.hyperparameters.values)
    if search_only:
        return TuneResult(tuning_dir, done, values, None)
    run = train_module.train(dataset, best, folds=folds, out_dir=out_dir, seed=seed,
                             verbose=verbose, log=log, export=export)
    (run.run_dir / contract.TRIALS_FILE).write_bytes(
        (tuning_dir / contract.TRIALS_FILE).read_bytes())
    return TuneResult(tuning_dir, done, values, run)


def _check_arguments(algorithm: str, trials: int, max_minutes: float | None,
                     backbones: tuple[str, ...]) -> None:
    if algorithm not in ALGORITHMS:
        raise TuneError(f"unknown --algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")
    if trials < 1:
        raise TuneError(f"--trials must be at least 1, got {trials}")
    if max_minutes is not None and max_minutes <= 0:
        raise TuneError(f"--max-minutes must be positive, got {max_minutes}")
    unknown = [b for b in backbones if b not in BACKBONES]
    if unknown or not backbones:
        raise TuneError(f"unknown --backbone {unknown or backbones}; choose from "
                        f"{list(BACKBONES)}")


@dataclass
class Search:
    """One KerasTuner search and its progress events."""

    algorithm: str
    trials: int
    max_minutes: float | None
    seed: int
    backbones: tuple[str, ...]
    verbose: int

    def run(self, export: data.Export, base: Config, tuning_dir: Path, log):
        """Search until the trials or the budget are spent; the tuner, or None for a
        distributed worker. Raises TuneError when no trial finished."""
        deadline = time.time() + 60 * self.max_minutes if self.max_minutes else None
        role = _distributed_role()
        tuner = make_tuner(self.algorithm, export, base, tuning_dir, trials=self.trials,
                           seed=self.seed, deadline=deadline, role=role,
                           backbones=self.backbones)
        train_idx, val_idx = data.split_validation(
            export.subjects, np.arange(len(export)), TUNING_VALIDATION_FRACTION, self.seed)
        log(f"tuning ({self.algorithm}, up to {self.trials} trials"
            + (f", {self.max_minutes:g} min budget" if self.max_minutes else "")
            + f") in {tuning_dir}: {len(train_idx)} training images, {len(val_idx)} "
            f"validation images from {len(set(export.subjects[val_idx]))} held-out subjects"
            + (f" [distributed: {role}]" if role != "local" else ""))
        tuning_dir.mkdir(parents=True, exist_ok=True)
        progress = contract.ProgressWriter(tuning_dir / contract.PROGRESS_FILE)
        ended = _ended_trials(tuner.oracle) if role != "worker" else []
        tuner.report = TrialReporter(progress, self.trials, ended)
        progress.emit("search_start", algorithm=self.algorithm, trials=self.trials,
                      max_minutes=self.max_minutes, finished=len(ended),
                      best=tuner.report.best)
        try:
            tuner.search(export, train_idx, val_idx, epochs=base.training.epochs,
                         deadline=deadline, seed=self.seed, verbose=self.verbose)
            if role == "worker":
                return None
            if not tuner.oracle.get_best_trials(1):
                raise TuneError(f"no trial finished in {tuning_dir} (time budget too short?)")
        except BaseException as exc:
            progress.emit("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        progress.emit("search_end", finished=tuner.report.finished, best=tuner.report.best)
        return tuner


ENDED = ("COMPLETED", "INVALID", "FAILED")


def _ended_trials(oracle) -> list:
    return [t for t in oracle.trials.values() if str(t.status) in ENDED]


class TrialReporter:
    """Called by the tuner as each trial ends: one `trial` event (its number among the
    ended trials, of the planned total, its score and the best so far)."""

    def __init__(self, progress: contract.ProgressWriter, planned: int, ended: list):
        self.progress, self.planned, self.finished = progress, planned, len(ended)
        scores = [t.score for t in ended if t.score is not None]
        self.best = float(max(scores)) if scores else None

    def __call__(self, trial) -> None:
        self.finished += 1
        score = None if trial.score is None else float(trial.score)
        if score is not None and (self.best is None or score > self.best):
            self.best = score
        self.progress.emit("trial", trial=self.finished, trials=self.planned,
                           trial_id=str(trial.trial_id), status=str(trial.status),
                           score=score, best=self.best)


def _dataset_key(export: data.Export) -> str:
    # Same export, same folder: that is what makes a re-run resume rather than restart.
    key = export.dataset_id or str(Path(export.source).resolve())
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def _distributed_role() -> str:
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "local"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def make_tuner(algorithm: str, export: data.Export, base: Config, tuning_dir: Path, *,
               trials: int, seed: int, deadline: float | None, role: str = "local",
               backbones: tuple[str, ...] = BACKBONES):
    import keras_tuner

    objective = keras_tuner.Objective(OBJECTIVE, direction="max")
    hypermodel = _hypermodel_class()(base, len(export.labels), backbones)
    if algorithm == "random":
        oracle = _deadline(keras_tuner.oracles.RandomSearchOracle)(
            objective=objective, max_trials=trials, seed=seed)
    elif algorithm == "bayesian":
        oracle = _deadline(keras_tuner.oracles.BayesianOptimizationOracle)(
            objective=objective, max_trials=trials, seed=seed,
            num_initial_points=max(2, min(trials // 3, 8)))
    else:
        oracle = _deadline(keras_tuner.oracles.HyperbandOracle)(
            objective=objective, max_epochs=base.training.epochs, factor=3, seed=seed)
        oracle.max_trials = trials  # Hyperband has no such argument; the base Oracle obeys it
    oracle.deadline = deadline
    # Helpers keep their checkpoints apart; the chief owns the shared state (oracle.json).
    project = "search" if role != "worker" else f"worker-{os.environ['KERASTUNER_TUNER_ID']}"
    tuner_class = _hyperband_tuner() if algorithm == "hyperband" else keras_tuner.Tuner
    return _reporting(tuner_class)(oracle=oracle, hypermodel=hypermodel,
                                   directory=str(tuning_dir), project_name=project,
                                   overwrite=False)


def _reporting(tuner_class):
    """The tuner class, calling its `report` (a `TrialReporter`) as each trial ends."""

    class ReportingTuner(tuner_class):
        report: Callable | None = None

        def on_trial_end(self, trial):
            super().on_trial_end(trial)  # the oracle records the trial's status and score
            if self.report is not None:
                self.report(trial)

    ReportingTuner.__name__ = f"Reporting{tuner_class.__name__}"
    return ReportingTuner


def _deadline(oracle_class):
    """The oracle class, refusing new trials once `deadline` (epoch seconds) has passed."""
    from keras_tuner.src.engine.trial import TrialStatus

    class DeadlineOracle(oracle_class):
        deadline: float | None = None

        def populate_space(self, trial_id):
            if self.deadline is not None and time.time() >= self.deadline:
                return {"status": TrialStatus.STOPPED, "values": None}
            return super().populate_space(trial_id)

    DeadlineOracle.__name__ = f"Deadline{oracle_class.__name__}"
    return DeadlineOracle


def _hyperband_tuner():
    import keras_tuner

    class OnsetHyperband(keras_tuner.Hyperband):
        # keras_tuner.Hyperband builds its own oracle; we bring the deadline-aware one and
        # keep Hyperband's trial logic (epoch budgets, checkpoint reloads).
        def __init__(self, oracle, **kwargs):
            keras_tuner.Tuner.__init__(self, oracle=oracle, **kwargs)

    return OnsetHyperband


def _hypermodel_class():
    import keras
    import keras_tuner

    from training.fit import fit_model
    from training.model import build_model

    class OnsetHyperModel(keras_tuner.HyperModel):
        def __init__(self, base: Config, num_classes: int,
                     backbones: tuple[str, ...] = BACKBONES):
            super().__init__(name="onset_cnn")
            self.base, self.num_classes, self.backbones = base, num_classes, backbones

        def config(self, hp) -> Config:
            return config_from_hp(hp, self.base, self.backbones)

        def build(self, hp):
            return build_model(self.config(hp), self.num_classes)

        def fit(self, hp, model, export, train_idx, val_idx, *, epochs, deadline=None,
                seed=0, callbacks=None, initial_epoch=0, verbose=2, **kwargs):
            # The same fit as `onset train` (phases, schedule, early stopping); the batch
            # size is a hyperparameter of the input pipeline, so the config carries it there.
            callbacks = list(callbacks or [])
            if deadline is not None:
                callbacks.append(StopAtDeadline(deadline))
            return fit_model(export, self.config(hp), train_idx, val_idx,
                             seed=seed, callbacks=callbacks, model=model, epochs=epochs,
                             initial_epoch=initial_epoch, verbose=verbose).history

    class StopAtDeadline(keras.callbacks.Callback):
        """Ends the running trial's training at the budget's deadline (after the batch)."""

        def __init__(self, deadline: float):
            super().__init__()
            self.deadline = deadline

        def on_train_batch_end(self, batch, logs=None):
            if time.time() >= self.deadline:
                self.model.stop_training = True

    return OnsetHyperModel


def write_trials_csv(oracle, path: Path) -> int:
    """One row per trial: id, status, score, best epoch, then every hyperparameter."""
    trials = sorted(oracle.trials.values(), key=lambda t: t.trial_id)
    names: list[str] = []
    for trial in trials:
        names += [n for n in trial.hyperparameters.values if n not in names]
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["trial_id", "status", OBJECTIVE, "best_epoch"] + names)
        for trial in trials:
            values = trial.hyperparameters.values
            out.writerow([trial.trial_id, trial.status,
                          "" if trial.score is None else f"{trial.score:.4f}",
                          "" if trial.best_step is None else int(trial.best_step) + 1]
                         + [_cell(values.get(n, "")) for n in names])
    return sum(1 for t in trials if t.status == "COMPLETED")


def _cell(value):
    return f"{value:.6g}" if isinstance(value, float) else value
