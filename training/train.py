"""Subject-grouped K-fold cross-validation, then a final model on all data, into a run folder.

Each fold: train on the other folds minus a few held-out *subjects* (early stopping watches
those), test on the fold. Out-of-fold predictions give metrics.json; the final model trains on
every image for the median best epoch count of the folds and becomes model.keras.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training import config as config_module
from training import data, metrics, run_files
from training.config import Config


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    final_epochs: int
    elapsed_s: float


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
        config = config.replace(training=dataclasses.replace(config.training, epochs=epochs))
    config_module.validate(config)
    export = export or data.load_export(dataset)
    cv_folds = data.merge_folds(export.folds, folds)
    k = int(cv_folds.max()) + 1

    run_dir = run_files.new_run_dir(out_dir, config.to_json() + export.dataset_id + str(seed))
    progress = run_files.Progress(run_dir / "progress.jsonl")
    history = run_files.HistoryWriter(run_dir / "history.csv")
    run_files.write_json(run_dir / "labels.json", export.labels)
    run_info = {"id": run_dir.name, "seed": seed, "folds": k, "dataset": str(dataset),
                "created": progress.emit("start", run_id=run_dir.name, folds=k,
                                         epochs=config.training.epochs,
                                         images=len(export), labels=export.labels)["time"]}
    _write_config(run_dir, config, export, run_info)
    log(f"run {run_dir.name}: {len(export)} images, {len(set(export.subjects))} subjects, "
        f"{k} folds, preset/config {config.name!r} -> {run_dir}")
    try:
        oof_index, oof_fold, oof_probs, best_epochs = [], [], [], []
        for fold in range(k):
            test_idx = np.flatnonzero(cv_folds == fold)
            fit_idx = np.flatnonzero(cv_folds != fold)
            train_idx, val_idx = data.split_validation(
                export.subjects, fit_idx, config.training.validation_fraction, seed + fold)
            log(f"fold {fold + 1}/{k}: train {len(train_idx)} images, early-stopping "
                f"validation {len(val_idx)} ({len(set(export.subjects[val_idx]))} held-out "
                f"subjects), test {len(test_idx)}")
            model, best = _fit(export, config, train_idx, val_idx, seed=seed + fold,
                               fold=fold + 1, folds=k, progress=progress, history=history,
                               verbose=verbose)
            probs = model.predict(data.make_dataset(export, test_idx, config, training=False),
                                  verbose=0)
            acc = float(np.mean(probs.argmax(1) == export.label_index[test_idx]))
            progress.emit("fold_end", fold=fold + 1, folds=k, accuracy=acc, best_epoch=best,
                          test_images=len(test_idx))
            log(f"fold {fold + 1}/{k}: test accuracy {acc:.1%} (best epoch {best})")
            oof_index.append(test_idx)
            oof_fold.append(np.full(len(test_idx), fold + 1))
            oof_probs.append(probs)
            best_epochs.append(best)

        index, fold_ids, probs = (np.concatenate(oof_index), np.concatenate(oof_fold),
                                  np.concatenate(oof_probs))
        summary = metrics.summarize(export.label_index[index], probs.argmax(1), fold_ids,
                                    export.labels)
        final_epochs = max(1, int(round(float(np.median(best_epochs)))))
        summary["best_epochs"] = best_epochs
        summary["final_epochs"] = final_epochs
        summary["images"] = len(export)
        run_files.write_predictions(run_dir / "predictions.csv", export, index, fold_ids,
                                    probs, export.labels)
        run_files.write_json(run_dir / "metrics.json", summary)

        progress.emit("final_model", epochs=final_epochs, images=len(export))
        log(f"final model: all {len(export)} images, {final_epochs} epochs "
            "(median best epoch of the folds)")
        final_config = config.replace(
            training=dataclasses.replace(config.training, epochs=final_epochs))
        model, _ = _fit(export, final_config, np.arange(len(export)), None, seed=seed + k,
                        fold="final", folds=k, progress=progress, history=history,
                        verbose=verbose)
        model.save(run_dir / "model.keras")
        elapsed = progress.elapsed()
        progress.emit("done", accuracy=summary["accuracy"], macro_f1=summary["macro_f1"],
                      run_dir=str(run_dir))
        return RunResult(run_dir, summary, final_epochs, elapsed)
    except BaseException as exc:
        progress.emit("failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _write_config(run_dir: Path, config: Config, export: data.Export, run_info: dict) -> None:
    counts = np.bincount(export.label_index, minlength=len(export.labels))
    run_files.write_json(run_dir / "config.json", {
        "config": config.to_dict(),
        "run": run_info,
        "dataset": {"id": export.dataset_id, "format": export.info.get("format"),
                    "labels": export.labels,
                    "counts": dict(zip(export.labels, counts.tolist(), strict=True)),
                    "policy": export.info.get("policy", export.info.get("selection"))},
        # predict.py crops new photos with exactly these parameters.
        "face_crop": data.face_crop_params(export.info),
    })


def _fit(export, config: Config, train_idx, val_idx, *, seed: int, fold, folds: int,
         progress, history, verbose: int):
    """Train one model; returns (model with best weights, best 1-based epoch)."""
    import keras

    from training.model import build_model, schedule_callbacks

    keras.utils.set_random_seed(seed)
    tr = config.training
    train_ds = data.make_dataset(export, train_idx, config, training=True, seed=seed)
    val_ds = (data.make_dataset(export, val_idx, config, training=False)
              if val_idx is not None and len(val_idx) else None)
    model = build_model(config, len(export.labels))
    monitor = tr.monitor if val_ds is not None else None
    callbacks = schedule_callbacks(config, tr.epochs, monitor)
    callbacks.append(epoch_reporter(progress, history, fold, folds, tr.epochs))
    stopper = None
    if monitor:
        stopper = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=tr.patience, restore_best_weights=True,
            start_from_epoch=_first_judged_epoch(config))
        callbacks.append(stopper)
    weights = (data.class_weights(export.label_index[train_idx], len(export.labels))
               if tr.class_weighting == "balanced" else None)
    fit = model.fit(train_ds, validation_data=val_ds, epochs=tr.epochs, callbacks=callbacks,
                    class_weight=weights, shuffle=False,  # the dataset shuffles itself
                    verbose=verbose)
    # EarlyStopping has put the best epoch's weights back; without validation the last counts.
    if stopper is not None and stopper.best_weights is not None:
        best = stopper.best_epoch + 1
    else:
        best = len(fit.history["loss"])
    return model, best


def _first_judged_epoch(config: Config) -> int:
    """Early stopping ignores epochs before this one. Under a cosine schedule the model is
    still at a high learning rate for the first half, where validation scores on a dozen
    held-out subjects swing widely; judging then stopped whole folds at a lucky early peak."""
    if config.optimizer.schedule == "cosine":
        return max(config.optimizer.warmup_epochs, config.training.epochs // 2)
    return config.optimizer.warmup_epochs


def epoch_reporter(progress, history, fold, folds: int, epochs: int):
    """A Keras callback writing a history.csv row and a progress.jsonl event per epoch."""
    import keras

    class EpochReporter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            history.add(fold, epoch + 1, logs, lr)
            progress.emit("epoch", fold=fold, folds=folds, epoch=epoch + 1, epochs=epochs,
                          lr=lr, epoch_s=round(time.monotonic() - self.started, 3),
                          metrics={k: float(v) for k, v in logs.items()
                                   if k in run_files.HISTORY_COLUMNS})

    return EpochReporter()
