"""What a training or tuning run is asked for: `TrainSpec` and `TuneSpec`.

`onset train` / `onset tune`, the admin page's forms, `POST /api/jobs` and the job process
(`python -m app job run ID`) all read these, so the names, defaults and limits below are the
only ones. `dataset` is an export snapshot id (what the pages and the API pick) or an export
folder or .zip (what the command line is given).
TensorFlow is not imported here: specs are checked before any model code loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from training.backbones import BACKBONES
from training.config import PRESET_DESCRIPTIONS
from training.tune import ALGORITHMS

Preset = Literal[tuple(PRESET_DESCRIPTIONS)]  # type: ignore[valid-type]
Algorithm = Literal[ALGORITHMS]  # type: ignore[valid-type]
Backbone = Literal[BACKBONES]  # type: ignore[valid-type]
MAX_SEED = 2**31 - 1
MAX_FOLDS = 50
MAX_EPOCHS = 1000

_DATASET = Field(..., min_length=1, description="An export snapshot id, or an export folder "
                 "or .zip (manifest.csv + dataset.json + images/).")
_FOLDS = Field(None, ge=2, le=MAX_FOLDS, description="Cross-validation folds; fewer than the "
               "export's are merged deterministically. Blank: all of them.")


def _blank_is_none(value):
    return None if value in ("", 0, "0") else value


class TrainSpec(BaseModel):
    """`onset train`: cross-validate a preset or a config file, then fit a final model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = _DATASET
    preset: Preset | None = Field("default", description="Named config: " + "; ".join(
        f"{name}: {what}" for name, what in PRESET_DESCRIPTIONS.items()) + ".")
    config: str | None = Field(None, description="A config JSON file on the server (or a "
                               "run's config.json, e.g. a tune's best_config.json) instead "
                               "of a preset.")
    folds: int | None = _FOLDS
    epochs: int | None = Field(None, ge=1, le=MAX_EPOCHS, description="Override the config's "
                               "epoch budget. Blank: the config's.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Random seed (same seed, same run).")

    _blank_folds = field_validator("folds", "epochs", mode="before")(_blank_is_none)

    @field_validator("config")
    @classmethod
    def _config_loads(cls, value: str | None) -> str | None:
        """Checked the way training will read it, so a typo fails now, not in the job."""
        if value in (None, ""):
            return None
        from training.config import ConfigError, load

        path = Path(value)
        if not path.is_file():
            raise ValueError(f"no config file at {path}")
        try:
            load(path)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return str(path.resolve())

    @model_validator(mode="before")
    @classmethod
    def _config_replaces_preset(cls, data: Any) -> Any:
        """A config file stands instead of the preset (a form still sends the preset's
        default); without one, a missing or null preset is the default."""
        if not isinstance(data, dict):
            return data
        if data.get("config"):
            if data.get("preset") not in (None, "", "default"):
                raise ValueError("give either a preset or a config file, not both")
            return {**data, "preset": None}
        return {k: v for k, v in data.items() if not (k == "preset" and v is None)}


class TuneSpec(BaseModel):
    """`onset tune`: search configs with KerasTuner, then cross-validate the best one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = _DATASET
    trials: int = Field(20, ge=1, le=500, description="Most trials to run (in total, "
                        "counting those of an interrupted search being resumed).")
    # A budget by default: an unbounded search on a CPU machine runs for many hours.
    max_minutes: float | None = Field(60.0, gt=0, le=24 * 60, description="Time budget: no "
                                      "new trial starts, and a running one stops, at the "
                                      "deadline. Blank: no budget.")
    algorithm: Algorithm = Field("bayesian", description="The search: hyperband, bayesian "
                                 "(Gaussian-process) or random.")
    epochs: int | None = Field(None, ge=1, le=MAX_EPOCHS, description="Most epochs per trial "
                               "(and for the final cross-validation of the best config).")
    folds: int | None = _FOLDS
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Random seed.")
    backbones: tuple[Backbone, ...] = Field(BACKBONES, min_length=1, description="Backbones "
                                            "searched: none (from scratch) and/or "
                                            "fer-mini-xception (FER2013's pretrained "
                                            "mini-Xception).")
    search_only: bool = Field(False, description="Stop after the search (trials.csv and "
                              "best_config.json in the tuning folder).")

    _blanks = field_validator("folds", "epochs", mode="before")(_blank_is_none)
