"""One cell = one variant trained with one seed: a normal run folder, found again by its key.

`train_cell` is what runs on this machine or on a Dask worker: it reads only files (the
variant's export folder), never the database, so a worker needs the data folder on a shared
file system and nothing else. The run uses the experiment's subject folds, not the ones in
the export's manifest (those are assigned per export, so they differ between variants).
The cell index (`<experiments>/cells/<key>.json`) maps a key to its finished run folder.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def cell_record(cells_dir: Path, key: str) -> dict[str, Any] | None:
    """The finished run of a key, if it is still there (metrics and predictions on disk)."""
    path = Path(cells_dir) / f"{key}.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    run = Path(record.get("run_dir", ""))
    if not (run / "metrics.json").is_file() or not (run / "predictions.csv").is_file():
        return None
    return record


def train_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Train one cell into `payload["runs_dir"]`, record it, return the record.

    payload: key, dataset (export folder), config (dict), folds ({subject: fold}), seed,
    runs_dir, cells_dir. A finished cell (same key) is returned as it is. The training runs
    in a process of its own (`python -m app.services.experiments.cells`): Keras draws its
    default seeds from Python's global `random`, which a Dask worker's own threads also draw
    from, so only a fresh process gives the same run here and on any worker."""
    done = cell_record(payload["cells_dir"], payload["key"])
    if done is not None:
        return done
    cells_dir = Path(payload["cells_dir"])
    cells_dir.mkdir(parents=True, exist_ok=True)
    job = cells_dir / f"{payload['key']}.payload.json"
    job.write_text(json.dumps(payload))
    with open(cells_dir / f"{payload['key']}.log", "w") as log:
        status = subprocess.run([sys.executable, "-m", __name__, str(job)], stdout=log,
                                stderr=subprocess.STDOUT, check=False).returncode
    record = cell_record(cells_dir, payload["key"])
    if status != 0 or record is None:
        tail = (cells_dir / f"{payload['key']}.log").read_text().strip().splitlines()[-3:]
        raise RuntimeError(f"cell {payload.get('variant', payload['key'])} seed "
                           f"{payload['seed']} failed (exit {status}): " + " | ".join(tail))
    job.unlink(missing_ok=True)
    return record


def _train(payload: dict[str, Any]) -> None:
    """The cell's process: the export with the experiment's folds, a normal run folder."""
    import numpy as np

    from training import data
    from training.config import from_dict
    from training.train import train

    export = data.load_export(payload["dataset"])
    folds = payload["folds"]
    export = replace(export, folds=np.array([folds[s] for s in export.subjects],
                                            dtype=np.int64))
    result = train(payload["dataset"], from_dict(payload["config"]), out_dir=payload["runs_dir"],
                   seed=payload["seed"], verbose=0, export=export)
    record = {"key": payload["key"], "run_dir": str(result.run_dir),
              "run": result.run_dir.name, "dataset": payload["dataset"],
              "seed": payload["seed"], "elapsed_s": result.elapsed_s,
              "finished": time.time()}
    path = Path(payload["cells_dir"]) / f"{payload['key']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(path)


def find_running(runs_dir: Path, payload: dict[str, Any], since: float) -> Path | None:
    """The run folder a cell is writing (config.json names its dataset, seed and config)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return None
    for config_file in runs_dir.glob("*/config.json"):
        try:
            if config_file.stat().st_mtime < since - 1:
                continue
            info = json.loads(config_file.read_text())
        except (OSError, ValueError):
            continue
        run = info.get("run") or {}
        if (run.get("dataset") == payload["dataset"] and run.get("seed") == payload["seed"]
                and info.get("config") == payload["config"]):
            return config_file.parent
    return None


def run_progress(run_dir: Path | None) -> tuple[int, int, str]:
    """(steps done, steps in all, what it is doing) from progress.jsonl: a step per fold and
    one for the final model."""
    if run_dir is None:
        return 0, 0, "starting"
    done, total, doing = 0, 0, "starting"
    try:
        lines = (Path(run_dir) / "progress.jsonl").read_text().splitlines()
    except OSError:
        return 0, 0, doing
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("event")
        if kind == "start":
            total = int(event.get("folds", 0)) + 1
        elif kind == "fold_end":
            done += 1
        elif kind == "epoch":
            doing = f"fold {event.get('fold')} epoch {event.get('epoch')}/{event.get('epochs')}"
        elif kind == "done":
            done, doing = total, "done"
    return done, total, doing


def read_predictions(run_dir: Path) -> list[dict[str, str]]:
    with open(Path(run_dir) / "predictions.csv", newline="") as fh:
        return list(csv.DictReader(fh))


if __name__ == "__main__":
    _train(json.loads(Path(sys.argv[1]).read_text()))
