"""The seam between `app/` and `training/`, declared once (docs/design.md, "Contracts").

`app/` writes exports and reads run folders and progress files; `training/` reads exports and
writes run folders. Both sides take the names, columns and formats below from here:

- the export: its format string, file names and manifest columns;
- the image block (dataset.json ``image``, copied into a run's config.json ``face_crop``):
  `ImageSpec`, written by `image_block` and read by `read_image`/`read_dataset_image`, the
  one place that still accepts the spellings older exports and runs used;
- the run folder's file names;
- progress files: `ProgressWriter`, the one writer of ``progress.jsonl`` lines (train, tune
  and the CLI's progress bar under a job), one JSON object a line:
  ``{"event": ..., "time": ISO-8601 UTC, "elapsed_s": seconds since the writer started, ...}``.

Importing this module is cheap (no TensorFlow, no numpy).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from training.framing import DEFAULT_FRAMING, Framing, FramingError

# --- the export folder -----------------------------------------------------------------------

DATASET_FORMAT = "onset-dataset/1"
FORMAT_FAMILY = "onset-dataset/"
MANIFEST_FILE = "manifest.csv"
DATASET_FILE = "dataset.json"
# What training reads, in this order; the export writes `split` (with --split) and the
# provenance columns after them.
MANIFEST_COLUMNS = ("path", "label", "subject", "sequence", "frame", "fold")
SPLIT_COLUMN = "split"
PROVENANCE_COLUMNS = ("sequence_id", "source_frame_id")


def manifest_columns(*, split: bool) -> list[str]:
    """manifest.csv's header as the export writes it."""
    return [*MANIFEST_COLUMNS, *([SPLIT_COLUMN] if split else []), *PROVENANCE_COLUMNS]


def is_dataset_format(value: Any) -> bool:
    """True for any version of the export format (``onset-dataset/<n>``)."""
    return isinstance(value, str) and value.startswith(FORMAT_FAMILY)


# --- the run folder --------------------------------------------------------------------------

CONFIG_FILE = "config.json"          # {"config", "run", "dataset", "face_crop"}
LABELS_FILE = "labels.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
PREDICTIONS_FILE = "predictions.csv"  # out of fold
PROGRESS_FILE = "progress.jsonl"
TRIALS_FILE = "trials.csv"            # tune: in the tuning folder and the best config's run
BEST_CONFIG_FILE = "best_config.json"  # tune: in the tuning folder
TUNING_PREFIX = "tune-"  # <out>/tune-<dataset key>-<algorithm>/: a search, not a run
HISTORY_COLUMNS = ("fold", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
                   "member")


# --- the image block -------------------------------------------------------------------------

COLORS = ("gray", "rgb")  # what a crop can be (an export's "original" keeps whole frames)
# Spellings older exports used, read here and nowhere else.
_OLD_COLORS = {"grayscale": "gray", "greyscale": "gray", "grey": "gray", "l": "gray",
               "color": "rgb", "colour": "rgb"}
_OLD_FACE_KEYS = ("face", "face_source", "source")


class ImageSpecError(ValueError):
    """An image block is unusable; the message names the field."""


@dataclass(frozen=True)
class ImageSpec:
    """How a dataset's images were cut, so a new photo can be cut the same way.

    ``face``, ``size`` and ``color`` are None where the block did not say; ``framing`` is
    always complete (a face source's framing; the default where none was declared, which
    reproduces CK+48's crops); ``raw`` is the block as found."""

    face: str | None = None
    size: int | None = None
    color: str | None = None
    framing: Framing = DEFAULT_FRAMING
    raw: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A run's config.json ``face_crop``."""
        return {"face": self.face, "size": self.size, "color": self.color,
                "framing": self.framing.to_dict(), "raw": self.raw}

    def crop_params(self, *, size: int, color: str):
        """`training.faces.CropParams` for a photo; `size`/`color` where the block is silent."""
        from training.faces import CropParams

        return CropParams(size=self.size or size, color=self.color or color,
                          framing=self.framing)


def framing_for(margin: float | None = None) -> Framing:
    """The framing an export cuts with: the default, or a legacy ``margin`` (the face box
    plus that fraction of its side on each side)."""
    return DEFAULT_FRAMING if margin is None else Framing.from_margin(margin)


def image_block(*, face: str, size: int, color: str, framing: Framing | None) -> dict:
    """dataset.json's ``image`` as the export writes it (``framing`` None: whole frames)."""
    return {"face": face, "size": size, "color": color,
            "framing": None if framing is None else framing.to_dict()}


def read_image(block: Any) -> ImageSpec:
    """An ``image`` (dataset.json) or ``face_crop`` (config.json) block, in any spelling an
    Onset export or run has used; a malformed ``framing`` raises `ImageSpecError`."""
    block = block if isinstance(block, dict) else {}
    face = next((block[k] for k in _OLD_FACE_KEYS if k in block), None)
    if isinstance(face, dict):  # {"source": "mtcnn", ...}
        face = face.get("source")
    color = str(block.get("color", block.get("mode", ""))).lower()
    color = _OLD_COLORS.get(color, color)
    return ImageSpec(face=face if isinstance(face, str) else None,
                     size=_size(block.get("size")),
                     color=color if color in COLORS else None,
                     framing=_framing(block), raw=block)


def read_dataset_image(info: dict) -> ImageSpec:
    """dataset.json's image block; the oldest exports said `face`/`size` at the top level or
    under `policy` (CK+48's "precropped")."""
    spec = read_image(info.get("image"))
    policy = info.get("policy") if isinstance(info.get("policy"), dict) else {}
    face = spec.face or next((v for v in (info.get("face"), policy.get("face"))
                              if isinstance(v, str)), None)
    return ImageSpec(face=face, size=spec.size or _size(info.get("size")), color=spec.color,
                     framing=spec.framing, raw=spec.raw)


def _framing(block: dict) -> Framing:
    value = block.get("framing")
    try:
        if isinstance(value, dict):
            return Framing.from_dict(value)
        if value is not None:
            raise FramingError(f"framing must be an object, not {value!r}")
    except FramingError as exc:
        raise ImageSpecError(f"image.framing: {exc}") from None
    margin, align = block.get("margin"), block.get("align")  # before framing blocks existed
    if isinstance(margin, (int, float)) and not isinstance(margin, bool):
        return Framing.from_margin(margin, align if isinstance(align, bool) else True)
    return DEFAULT_FRAMING


def _size(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (int, float)):
        return int(value[0])
    if isinstance(value, str):  # "96x96"
        head = value.lower().split("x")[0].strip()
        return int(head) if head.isdigit() else None
    return None


# --- progress files --------------------------------------------------------------------------

class ProgressWriter:
    """Appends one event a line to a progress.jsonl, flushed at once so a page tailing the
    file sees each event as it happens.

    Events (docs/design.md, "Progress events"): train writes ``start``, ``epoch``,
    ``fold_end``, ``final_model``, ``done``/``failed``; tune writes ``search_start``,
    ``trial``, ``search_end`` (or ``failed``) in its tuning folder; long CLI work under a job
    writes ``progress`` (``stage``, ``done``, ``total``) through `step`."""

    STEP_INTERVAL_S = 0.5  # `step` writes at most two lines a second, and always the last

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.started = time.monotonic()
        self._last_step = float("-inf")

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def emit(self, event: str, **fields: Any) -> dict:
        record = {"event": event, "time": datetime.now(UTC).isoformat(timespec="seconds"),
                  "elapsed_s": self.elapsed(), **fields}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
        return record

    def step(self, stage: str, done: int, total: int) -> None:
        """A ``progress`` event for a counted stage (a progress bar's state)."""
        now = time.monotonic()
        if now - self._last_step < self.STEP_INTERVAL_S and done < total:
            return
        self._last_step = now
        self.emit("progress", stage=stage, done=done, total=total)

