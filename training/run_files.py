"""Writing the run folder (docs/design.md; file names and columns: `training.contract`): ids,
history.csv, JSON files, out-of-fold predictions, the console summary."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from training.contract import HISTORY_COLUMNS


def new_run_dir(out_dir: str | Path, fingerprint: str) -> Path:
    """`<out>/<UTC timestamp>-<short hash>`; the hash tells apart runs started the same second."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    digest = hashlib.sha1(f"{fingerprint}{time.time_ns()}".encode()).hexdigest()[:6]
    run_dir = Path(out_dir) / f"{stamp}-{digest}"
    run_dir.mkdir(parents=True, exist_ok=False)
    return run_dir


class HistoryWriter:
    """history.csv, one row per epoch per fold (fold "final" for the all-data model)."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "w", newline="") as fh:
            csv.writer(fh).writerow(HISTORY_COLUMNS)

    def add(self, fold, epoch: int, logs: dict, lr: float, member: str = "") -> None:
        row = ([fold, epoch] + [_fmt(logs.get(k)) for k in HISTORY_COLUMNS[2:6]]
               + [_fmt(lr), member])
        with open(self.path, "a", newline="") as fh:
            csv.writer(fh).writerow(row)


def _fmt(value) -> str:
    return "" if value is None else f"{float(value):.6g}"


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_predictions(path: Path, export, indices, folds, probs, labels: list[str]) -> None:
    """Out-of-fold predictions: one row per image, in manifest order."""
    order = sorted(range(len(indices)), key=lambda j: indices[j])
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["path", "subject", "sequence", "frame", "fold", "true_label",
                      "predicted_label"] + [f"prob_{label}" for label in labels])
        for j in order:
            i = indices[j]
            out.writerow([export.paths[i], export.subjects[i], export.sequences[i],
                          int(export.frames[i]), int(folds[j]), labels[export.label_index[i]],
                          labels[int(probs[j].argmax())]] + [f"{p:.6f}" for p in probs[j]])


def summary_table(metrics: dict) -> str:
    """Plain-text table for the console: per-class precision/recall/F1 and the headline."""
    acc = metrics["accuracy"]
    if isinstance(acc, dict):  # cross-validation: mean ± std over folds
        headline = (f"accuracy {acc['mean']:.1%} ± {acc['std']:.1%} over "
                    f"{len(acc['per_fold'])} folds  (per fold: "
                    f"{', '.join(f'{a:.0%}' for a in acc['per_fold'])})")
    else:
        headline = f"accuracy {acc:.1%}"
    lines = [headline, f"macro F1 {metrics['macro_f1']:.3f}", "",
             f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for label, c in metrics["per_class"].items():
        lines.append(f"{label:<12}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>10.3f}"
                     f"{c['support']:>9d}")
    cm = metrics["confusion_matrix"]
    short = [label[:5] for label in cm["labels"]]
    lines += ["", "confusion (rows true, columns predicted)",
              " " * 12 + "".join(f"{s:>7}" for s in short)]
    for label, row in zip(cm["labels"], cm["matrix"], strict=True):
        lines.append(f"{label:<12}" + "".join(f"{v:>7d}" for v in row))
    return "\n".join(lines)
