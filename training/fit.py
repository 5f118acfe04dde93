"""One `fit` for every training path (cross-validation folds, the final model, tuner trials).

A from-scratch network trains in one phase. A pretrained backbone trains in two: the new head
alone at `finetune.head_learning_rate` (the backbone frozen), then every layer at the
optimizer's rate and schedule. Epoch numbers run on across both phases, so history.csv and
progress.jsonl read as one curve; `epochs` in the config counts the second phase only.
"""

from __future__ import annotations

from dataclasses import dataclass

from training import data
from training.config import Config


@dataclass
class Fitted:
    model: object
    best_epoch: int  # 1-based, counted in the main phase (what a final fit should run)
    history: object  # the main phase's keras History (the tuner reads its objective there)


def head_epochs(config: Config) -> int:
    return config.finetune.head_epochs if config.backbone != "none" else 0


def fit_model(export: data.Export, config: Config, train_idx, val_idx, *, seed: int,
              callbacks: list | None = None, model=None, epochs: int | None = None,
              initial_epoch: int = 0, verbose: int = 2) -> Fitted:
    """Train one network; with validation rows and a monitor, stop early and keep the best
    epoch's weights. `callbacks` see every epoch of both phases."""
    import keras

    from training.model import (
        build_model,
        compile_model,
        schedule_callbacks,
        set_backbone_trainable,
    )

    keras.utils.set_random_seed(seed)
    if not config.trains:  # zero-shot: used as shipped
        return Fitted(model or build_model(config, len(export.labels), export.labels), 0, None)
    tr = config.training
    epochs = tr.epochs if epochs is None else epochs
    train_ds = data.make_dataset(export, train_idx, config, training=True, seed=seed)
    val_ds = (data.make_dataset(export, val_idx, config, training=False)
              if val_idx is not None and len(val_idx) else None)
    model = model or build_model(config, len(export.labels))
    weights = (data.class_weights(export.label_index[train_idx], len(export.labels))
               if tr.class_weighting == "balanced" else None)
    common = dict(validation_data=val_ds, class_weight=weights, verbose=verbose,
                  shuffle=False)  # the dataset shuffles itself
    callbacks = list(callbacks or [])

    head = head_epochs(config) if initial_epoch == 0 else 0  # a resumed trial has its head
    if head:
        set_backbone_trainable(model, False)
        compile_model(model, config, learning_rate=config.finetune.head_learning_rate)
        model.fit(train_ds, epochs=head, callbacks=callbacks, **common)
        set_backbone_trainable(model, True)
        compile_model(model, config)

    monitor = tr.monitor if val_ds is not None and tr.monitor != "none" else None
    schedule = schedule_callbacks(config, epochs, monitor, offset=head)
    stopper = None
    if monitor:
        stopper = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=tr.patience, restore_best_weights=True,
            start_from_epoch=head + first_judged_epoch(config, epochs))
        callbacks.append(stopper)
    history = model.fit(train_ds, epochs=head + epochs, initial_epoch=head + initial_epoch,
                        callbacks=schedule + callbacks, **common)
    # EarlyStopping has put the best epoch's weights back; without validation the last counts.
    if stopper is not None and stopper.best_weights is not None:
        best = stopper.best_epoch + 1 - head
    else:
        best = len(history.history["loss"]) + initial_epoch
    return Fitted(model, max(1, best), history)


def first_judged_epoch(config: Config, epochs: int) -> int:
    """Early stopping ignores epochs before this one. Under a cosine schedule the model is
    still at a high learning rate for the first half, where validation scores on a dozen
    held-out subjects swing widely; judging then stopped whole folds at a lucky early peak."""
    if config.optimizer.schedule == "cosine":
        return max(config.optimizer.warmup_epochs, epochs // 2)
    return config.optimizer.warmup_epochs
