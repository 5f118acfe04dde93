"""Subject-grouped K-fold cross-validation, then a final model on all data, into a run folder.

Each fold trains every member of the config (one, or an ensemble's members with their seeds)
on the other folds and tests on the fold; an ensemble scores its members' averaged
probabilities. With a validation monitor, a few held-out *training subjects* drive early
stopping; with monitor "none" every fit runs its configured epochs on all training folds.
Out-of-fold predictions give metrics.json; the final model trains every member on all images
for its median best epoch count and becomes model.keras (an ensemble: one model averaging them).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training import contract, data, metrics, run_files
from training.backbones import average_members, known_labels
from training.config import Config, Member
from training.fit import fit_model, head_epochs


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    final_epochs: int
    elapsed_s: float


@dataclass
class MemberPlan:
    """One trained network of a run: an ensemble member with one of its seeds."""

    name: str
    config: Config
    seed_offset: int
    epoch_offset: int  # epochs of the members before it in a fold (for one progress bar)

    @property
    def epochs(self) -> int:
        if not self.config.trains:
            return 0
        return head_epochs(self.config) + self.config.training.epochs


def plan_members(config: Config) -> list[MemberPlan]:
    """A plain config is an ensemble of one; seeds multiply a member (named `name#2`, ...)."""
    members = config.members or [Member(config=config)]
    plans, offset = [], 0
    for j, member in enumerate(members):
        for s in range(member.seeds):
            name = member.config.name + (f"#{s + 1}" if member.seeds > 1 else "")
            plan = MemberPlan(name, member.config, 1000 * j + 100 * s, offset)
            plans.append(plan)
            offset += plan.epochs
    return plans


def train(dataset: str | Path, config: Config, *, folds: int | None = None,
          epochs: int | None = None, out_dir: str | Path = "runs", seed: int = 0,
          verbose: int = 2, log: Callable[[str], None] | None = None,
          export: data.Export | None = None) -> RunResult:
    """Run cross-validation and the final fit; returns where the run folder is and its metrics.

    `verbose` is Keras's fit verbosity (2: one line per epoch). `log` gets fold-level lines.
    Raises data.DatasetError for a bad export, before anything is written.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if epochs is not None:
        config = config.with_epochs(epochs)
    export = export or data.load_export(dataset)
    cv_folds = data.merge_folds(export.folds, folds)
    k = int(cv_folds.max()) + 1
    plans = plan_members(config)
    masks = [known_labels(p.config.head, export.labels) for p in plans]
    fold_epochs = sum(p.epochs for p in plans)

    run_dir = run_files.new_run_dir(out_dir, config.to_json() + export.dataset_id + str(seed))
    progress = contract.ProgressWriter(run_dir / contract.PROGRESS_FILE)
    history = run_files.HistoryWriter(run_dir / contract.HISTORY_FILE)
    run_files.write_json(run_dir / contract.LABELS_FILE, export.labels)
    run_info = {"id": run_dir.name, "seed": seed, "folds": k, "dataset": str(dataset),
                "members": [p.name for p in plans],
                "created": progress.emit("start", run_id=run_dir.name, folds=k,
                                         epochs=fold_epochs, members=[p.name for p in plans],
                                         images=len(export), labels=export.labels)["time"]}
    _write_config(run_dir, config, export, run_info)
    log(f"run {run_dir.name}: {len(export)} images, {len(set(export.subjects))} subjects, "
        f"{k} folds, preset/config {config.name!r}"
        + (f" ({len(plans)} members: {', '.join(p.name for p in plans)})"
           if len(plans) > 1 else "") + f" -> {run_dir}")
    reporting = dict(progress=progress, history=history, folds=k, fold_epochs=fold_epochs,
                     verbose=verbose)
    try:
        summary = _cross_validate(run_dir, export, cv_folds, plans, masks, seed, reporting,
                                  log)
        run_files.write_json(run_dir / contract.METRICS_FILE, summary)

        final_epochs = summary["final_epochs"]
        progress.emit("final_model", epochs=final_epochs, images=len(export))
        log(f"final model: all {len(export)} images, "
            + ", ".join(f"{e} epochs" + _member_note(p, plans) for p, e in
                        zip(plans, final_epochs, strict=True) if p.config.trains)
            + " (each member's median best epoch of the folds)")
        _final_model(export, config, plans, final_epochs, masks, seed + k, reporting).save(
            run_dir / contract.MODEL_FILE)
        elapsed = progress.elapsed()
        progress.emit("done", accuracy=summary["accuracy"], macro_f1=summary["macro_f1"],
                      sequence_accuracy=summary["sequence_accuracy"], run_dir=str(run_dir))
        return RunResult(run_dir, summary, max(final_epochs), elapsed)
    except BaseException as exc:
        progress.emit("failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _cross_validate(run_dir: Path, export, cv_folds, plans: list[MemberPlan], masks, seed: int,
                    reporting: dict, log) -> dict:
    """Every member on every fold; writes predictions.csv and returns metrics.json's data."""
    progress, k = reporting["progress"], reporting["folds"]
    oof_index, oof_fold, member_probs, best_epochs = [], [], [], []
    for fold in range(k):
        test_idx = np.flatnonzero(cv_folds == fold)
        fit_idx = np.flatnonzero(cv_folds != fold)
        probs, best = [], []
        for plan in plans:
            train_idx, val_idx = _validation_split(export, fit_idx, plan.config,
                                                   seed + fold + plan.seed_offset)
            log(f"fold {fold + 1}/{k}{_member_note(plan, plans)}: train {len(train_idx)} "
                f"images, test {len(test_idx)}" + (
                    f", early-stopping validation {len(val_idx)} "
                    f"({len(set(export.subjects[val_idx]))} held-out subjects)"
                    if val_idx is not None else ", fixed epochs"))
            fitted = _fit(export, plan, train_idx, val_idx, seed + fold + plan.seed_offset,
                          fold=fold + 1, **reporting)
            probs.append(fitted.model.predict(
                data.make_dataset(export, test_idx, plan.config, training=False), verbose=0))
            best.append(fitted.best_epoch)
        mean = average_members(probs, masks)
        acc = float(np.mean(mean.argmax(1) == export.label_index[test_idx]))
        progress.emit("fold_end", fold=fold + 1, folds=k, accuracy=acc, best_epoch=best[0],
                      best_epochs=best, test_images=len(test_idx))
        log(f"fold {fold + 1}/{k}: test accuracy {acc:.1%} (best epochs "
            f"{', '.join(map(str, best))})")
        oof_index.append(test_idx)
        oof_fold.append(np.full(len(test_idx), fold + 1))
        member_probs.append(np.stack(probs))
        best_epochs.append(best)

    index, fold_ids = np.concatenate(oof_index), np.concatenate(oof_fold)
    per_member = np.concatenate(member_probs, axis=1)  # (members, images, classes)
    probs = average_members(per_member, masks)
    run_files.write_predictions(run_dir / contract.PREDICTIONS_FILE, export, index, fold_ids,
                                probs, export.labels)
    return _summary(export, index, fold_ids, probs, per_member, plans, best_epochs)


def _member_note(plan: MemberPlan, plans: list[MemberPlan]) -> str:
    return f" [{plan.name}]" if len(plans) > 1 else ""


def _validation_split(export, fit_idx, config: Config, seed: int):
    if config.training.monitor == "none":
        return fit_idx, None
    return data.split_validation(export.subjects, fit_idx,
                                 config.training.validation_fraction, seed)


def _summary(export, index, fold_ids, probs, per_member, plans, best_epochs) -> dict:
    true = export.label_index[index]
    summary = metrics.summarize(true, probs.argmax(1), fold_ids, export.labels)
    summary["sequence_accuracy"] = metrics.sequence_accuracy(
        true, probs, export.sequences[index], fold_ids)
    if len(plans) > 1:
        summary["members"] = {
            plan.name: metrics.member_scores(true, member, export.sequences[index], fold_ids,
                                             export.labels)
            for plan, member in zip(plans, per_member, strict=True)}
    by_member = np.array(best_epochs)  # (folds, members)
    summary["best_epochs"] = by_member[:, 0].tolist() if len(plans) == 1 else by_member.tolist()
    summary["final_epochs"] = [max(1, int(round(float(np.median(by_member[:, j])))))
                               if plan.config.trains else 0
                               for j, plan in enumerate(plans)]
    summary["images"] = len(export)
    return summary


def _final_model(export, config: Config, plans, final_epochs: list[int], masks, seed: int,
                 reporting: dict):
    everything = np.arange(len(export))
    models = []
    for plan, epochs in zip(plans, final_epochs, strict=True):
        config_final = plan.config.with_epochs(epochs) if plan.config.trains else plan.config
        final = MemberPlan(plan.name, config_final, plan.seed_offset, plan.epoch_offset)
        models.append(_fit(export, final, everything, None, seed + plan.seed_offset,
                           fold="final", **reporting).model)
    if not config.is_ensemble:
        return models[0]
    from training.model import build_ensemble

    return build_ensemble(models, config, masks)


def _fit(export, plan: MemberPlan, train_idx, val_idx, seed: int, *, fold, progress, history,
         folds: int, fold_epochs: int, verbose: int):
    reporter = epoch_reporter(progress, history, fold, folds, fold_epochs, plan)
    return fit_model(export, plan.config, train_idx, val_idx, seed=seed, callbacks=[reporter],
                     verbose=verbose)


def _write_config(run_dir: Path, config: Config, export: data.Export, run_info: dict) -> None:
    counts = np.bincount(export.label_index, minlength=len(export.labels))
    run_files.write_json(run_dir / contract.CONFIG_FILE, {
        "config": config.to_dict(),
        "run": run_info,
        "dataset": {"id": export.dataset_id, "format": export.info.get("format"),
                    "labels": export.labels,
                    "counts": dict(zip(export.labels, counts.tolist(), strict=True)),
                    "policy": export.info.get("policy", export.info.get("selection"))},
        # predict.py crops new photos with exactly these parameters.
        "face_crop": contract.read_dataset_image(export.info).to_dict(),
    })


def epoch_reporter(progress, history, fold, folds: int, epochs: int, plan: MemberPlan):
    """A Keras callback writing a history.csv row and a progress.jsonl event per epoch.

    Epochs are counted across a fold's members (member 2 starts where member 1 ended), so a
    fold is one run of `epochs` on the job page's bar."""
    import keras

    class EpochReporter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            number = plan.epoch_offset + epoch + 1
            history.add(fold, number, logs, lr, plan.name)
            progress.emit("epoch", fold=fold, folds=folds, epoch=number, epochs=epochs,
                          member=plan.name, lr=lr,
                          epoch_s=round(time.monotonic() - self.started, 3),
                          metrics={k: float(v) for k, v in logs.items()
                                   if k in contract.HISTORY_COLUMNS})

    return EpochReporter()
