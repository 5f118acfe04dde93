"""The named, ready-made configs: one table that `--help`, the admin form and the tests list.

Why each preset is what it is, with figures on real CK+: training/README.md ("Presets, and
why"). `training.config.preset` and `PRESET_DESCRIPTIONS` reach this module too.
"""

from __future__ import annotations

from training.backbones import FER_BACKBONE, FER_INPUT_SIZE
from training.config import (
    Augmentation,
    Config,
    ConfigError,
    ConvBlock,
    DenseLayer,
    FineTune,
    Member,
    Optimizer,
    Training,
)


def preset(name: str) -> Config:
    """A named, ready-made config (a fresh copy each call)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


def _baseline() -> Config:
    # The original team's first model: a plain small CNN, no normalisation, no augmentation,
    # no class weighting, constant Adam. Kept as the reference the default must beat; said
    # as what it lacks next to the scratch preset.
    scratch = _scratch()
    plain = [ConvBlock(filters=filters, normalization="none") for filters in (32, 64)]
    return scratch.replace(
        name="baseline", input_norm="scale", conv_blocks=plain,
        dense_layers=[DenseLayer(units=128, dropout=0.5)],
        optimizer=Optimizer(name="adam", learning_rate=1e-3, weight_decay=0.0,
                            schedule="constant", warmup_epochs=0),
        training=scratch.training.replace(epochs=30, patience=8, monitor="val_loss",
                                          label_smoothing=0.0, class_weighting="none"),
        augmentation=Augmentation(flip=False, rotation_deg=0, zoom=0, translation=0,
                                  contrast=0, brightness=0))


def _scratch() -> Config:
    # The best model without FER2013-derived weights, for users who cannot accept FER2013's
    # terms. Reasons for every choice are in training/README.md ("Presets, and why").
    return Config(
        name="scratch",
        input_size=48,
        channels=1,
        input_norm="per_image",
        conv_blocks=[
            ConvBlock(filters=32, activation="relu", dropout=0.0),
            ConvBlock(filters=64, activation="relu", dropout=0.1),
            ConvBlock(filters=128, activation="relu", dropout=0.2),
        ],
        global_pooling="flatten",
        dense_layers=[DenseLayer(units=128, activation="elu", normalization="batch",
                                 dropout=0.5)],
        optimizer=Optimizer(name="adamw", learning_rate=1e-3, weight_decay=1e-4,
                            schedule="cosine", warmup_epochs=1),
        # Fixed epochs on every training subject: early stopping on the 5-12 subjects one can
        # hold out was erratic and costs those subjects' images (training/README.md).
        training=Training(batch_size=32, epochs=24, patience=10, monitor="none",
                          label_smoothing=0.05, class_weighting="balanced"),
        augmentation=Augmentation(flip=True, rotation_deg=5, zoom=0.05, translation=0.05,
                                  contrast=0.0, brightness=0.0),
    )


def _pretrained() -> Config:
    # FER2013's mini-Xception, its head replaced: a few head-only epochs at a high rate, then
    # every layer at a smaller one with cosine decay. The rates and head dropout are what
    # `onset tune` found on real CK+ (training/README.md, "Presets, and why"): they beat the
    # first settings (3e-4 for 18 epochs, dropout 0.3) on every seed measured.
    return Config(
        name="pretrained",
        input_size=FER_INPUT_SIZE,
        channels=1,
        input_norm="scale",  # what the backbone was trained on: pixels to [-1, 1]
        backbone=FER_BACKBONE,
        global_pooling="avg",
        head_dropout=0.1,
        optimizer=Optimizer(name="adam", learning_rate=1.76e-3, weight_decay=0.0,
                            schedule="cosine", warmup_epochs=0),
        training=Training(batch_size=32, epochs=24, patience=10, monitor="none",
                          label_smoothing=0.05, class_weighting="balanced"),
        augmentation=Augmentation(flip=True, rotation_deg=5, zoom=0.05, translation=0.05,
                                  contrast=0.0, brightness=0.0),
        finetune=FineTune(head_epochs=6, head_learning_rate=7.45e-3),
    )


def _zero_shot() -> Config:
    # FER2013's model exactly as shipped, its classes renamed to CK+'s (it has no contempt).
    return _pretrained().replace(name="zero-shot", head="pretrained", head_dropout=0.0)


def _default() -> Config:
    # The trained members' errors differ, so their averaged probabilities beat either alone;
    # the zero-shot member keeps what FER2013's photos of people taught the backbone, which
    # fine-tuning on lab faces alone partly forgets (training/README.md, "Presets, and why").
    return Config(name="default", input_size=FER_INPUT_SIZE, channels=1,
                  members=[Member(config=_scratch()), Member(config=_pretrained()),
                           Member(config=_zero_shot())])


PRESETS = {"baseline": _baseline, "scratch": _scratch, "pretrained": _pretrained,
           "zero-shot": _zero_shot, "default": _default}
# One line each, for the admin form and `--help`; the default first.
PRESET_DESCRIPTIONS = {
    "default": "best measured: ensemble of scratch, pretrained and zero-shot",
    "pretrained": "FER2013's mini-Xception, fine-tuned",
    "zero-shot": "FER2013's model as shipped, nothing trained",
    "scratch": "best without FER2013-derived weights",
    "baseline": "a plain small CNN",
}

