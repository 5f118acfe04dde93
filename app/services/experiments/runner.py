"""Run an experiment: export every variant (normal snapshots), train the cells that have no
finished run yet (here, one after another, or on a Dask cluster), score, write
experiment.json after every finished cell, so a page shows the table filling in and an
interrupted experiment resumes where it stopped."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.services.experiments import cells as cell_files
from app.services.experiments import stats
from app.services.experiments.plan import ExperimentError, Plan, fold_sizes, make_plan
from app.services.experiments.spec import ExperimentSpec

RESULT_FILE = "experiment.json"
POLL_S = 1.0
# (variant, seed, steps done, steps in all, what it is doing) per cell
ProgressCallback = Callable[[list[dict[str, Any]]], None]


def experiments_dir(settings: Settings) -> Path:
    return settings.data_dir / "experiments"


def run_experiment(session: Session, settings: Settings, spec: ExperimentSpec, *,
                   out: Path | None = None, scheduler: str | None = None,
                   progress: ProgressCallback | None = None,
                   export_progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Plan (refusing bad requests before any work), export, train, score; returns the
    experiment.json body. Raises ExperimentError for a bad request."""
    plan = make_plan(session, spec)
    folder = Path(out) if out is not None else experiments_dir(settings) / spec.digest()
    check_folder(folder, spec)
    cells_dir = experiments_dir(settings) / "cells"
    result = new_result(plan, spec, scheduler)
    result["created"] = (read_result(folder) or result)["created"]  # a resumed one keeps it
    write_result(folder, result)
    datasets = export_variants(session, settings, plan, cells_dir, export_progress)
    payloads = [{"key": c.key, "dataset": datasets[c.variant], "seed": c.seed,
                 "config": plan.variant(c.variant).config, "folds": plan.folds,
                 "runs_dir": str(settings.runs_dir), "cells_dir": str(cells_dir),
                 "variant": c.variant} for c in plan.cells]
    records = {p["key"]: cell_files.cell_record(cells_dir, p["key"]) for p in payloads}
    # Variants selecting the very same images share a key, so one run serves them all.
    todo = list({p["key"]: p for p in payloads if records[p["key"]] is None}.values())

    def finished(record: dict[str, Any]) -> None:
        records[record["key"]] = record
        write_result(folder, score(plan, result, payloads, records))

    try:
        if todo:
            train_cells(todo, settings, scheduler, finished, progress)
        result = score(plan, result, payloads, records)
        result.update(status="done", finished=_now())
    except BaseException as exc:
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        write_result(folder, result)
    return result


def check_folder(folder: Path, spec: ExperimentSpec) -> None:
    """A folder holding another experiment's results is never overwritten."""
    existing = read_result(folder)
    if existing is None:
        if folder.exists() and any(folder.iterdir()):
            raise ExperimentError(f"{folder} is not empty and holds no {RESULT_FILE}")
        return
    if existing.get("spec") != spec.model_dump(mode="json"):
        changed = sorted(k for k, v in spec.model_dump(mode="json").items()
                         if (existing.get("spec") or {}).get(k) != v)
        raise ExperimentError(f"{folder} holds experiment {existing.get('id')} run with other "
                              f"settings ({', '.join(changed)} differ); give another --out, "
                              "or repeat its settings to resume it")


def export_variants(session: Session, settings: Settings, plan: Plan, cells_dir: Path,
                    export_progress: Callable[[str], Any] | None) -> dict[str, str]:
    """{variant: export folder}. A variant whose cells are all finished is not re-exported."""
    from app.services.export import run_export

    folders = {}
    for v in plan.variants:
        done = [cell_files.cell_record(cells_dir, c.key) for c in plan.cells
                if c.variant == v.name]
        if done and all(done):
            folders[v.name] = done[0]["dataset"]
            continue
        existing = settings.exports_dir / v.dataset_id
        if _export_id(existing) == v.dataset_id:
            folders[v.name] = str(existing)
            continue
        callback = export_progress(v.name) if export_progress else None
        exported = run_export(session, settings, params=v.export, progress=callback)
        session.commit()
        folders[v.name] = str(exported.path)
    return folders


def _export_id(folder: Path) -> str | None:
    try:
        return json.loads((folder / "dataset.json").read_text()).get("id")
    except (OSError, ValueError):
        return None


def train_cells(todo: list[dict[str, Any]], settings: Settings, scheduler: str | None,
                finished: Callable[[dict[str, Any]], None],
                progress: ProgressCallback | None) -> None:
    """Submit every cell, poll until all are done; the first failure stops the rest."""
    client = pool = None
    if scheduler:
        from distributed import Client

        client = Client(scheduler, timeout="20s")
        futures = {p["key"]: client.submit(cell_files.train_cell, p, key=f"onset-cell-{p['key']}",
                                           pure=False) for p in todo}
    else:
        pool = ThreadPoolExecutor(max_workers=1)  # one training at a time on this machine
        futures = {p["key"]: pool.submit(cell_files.train_cell, p) for p in todo}
    started = time.time()
    pending = {p["key"]: p for p in todo}
    try:
        while pending:
            for key in [k for k in pending if futures[k].done()]:
                del pending[key]
                finished(futures[key].result())
            if progress:
                progress([_cell_state(p, settings, started, futures[p["key"]].done())
                          for p in todo])
            if pending:
                time.sleep(POLL_S)
    finally:
        for future in futures.values():
            future.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()


def _cell_state(payload: dict[str, Any], settings: Settings, since: float,
                done: bool) -> dict[str, Any]:
    if done:
        return {"variant": payload["variant"], "seed": payload["seed"], "done": 1, "total": 1,
                "doing": "done"}
    run = cell_files.find_running(settings.runs_dir, payload, since)
    steps, total, doing = cell_files.run_progress(run)
    return {"variant": payload["variant"], "seed": payload["seed"], "done": steps,
            "total": total, "doing": doing}


def new_result(plan: Plan, spec: ExperimentSpec, scheduler: str | None) -> dict[str, Any]:
    return {
        "id": spec.digest(), "status": "running", "spec": spec.model_dump(mode="json"),
        "factors": {k: list(v) for k, v in spec.vary.items()},
        "folds": {"k": spec.folds, "seed": spec.seed,
                  "subjects": {s: f + 1 for s, f in sorted(plan.folds.items())}},
        "common_test": {"rule": f"the last {spec.test_frames} frames of each sequence that "
                                "every variant has, with the same label",
                        "images": len(plan.common),
                        "per_fold": fold_sizes(plan.common, plan.folds)},
        "variants": [{"name": v.name, "settings": v.variant.settings, "dataset": v.dataset_id,
                      "run": None, "runs": [], "cells_done": 0, "accuracy": None,
                      "macro_f1": None, "per_class": None} for v in plan.variants],
        "comparisons": [], "scheduler": scheduler, "created": _now(), "finished": None,
    }


def score(plan: Plan, result: dict[str, Any], payloads: list[dict[str, Any]],
          records: dict[str, dict | None]) -> dict[str, Any]:
    """Fill in every variant whose cells are all finished, and compare those. The common
    test set shrinks to the frames every finished cell predicted (a frame where a face
    source found no face is in no run of that variant)."""
    finished: dict[str, list[list[dict[str, str]]]] = {}
    for entry in result["variants"]:
        mine = [p for p in payloads if p["variant"] == entry["name"]]
        done = [records[p["key"]] for p in mine if records.get(p["key"])]
        entry.update(cells_done=len(done), runs=[r["run"] for r in done],
                     run=done[0]["run"] if done else None)
        if len(done) == len(mine):
            finished[entry["name"]] = [cell_files.read_predictions(r["run_dir"]) for r in done]
    common = dict(plan.common)
    for cells in finished.values():
        for rows in cells:
            seen = {(r["subject"], r["sequence"], int(r["frame"])): r["true_label"]
                    for r in rows}
            common = {k: label for k, label in common.items() if seen.get(k) == label}
    result["common_test"].update(images=len(common), per_fold=fold_sizes(common, plan.folds))
    complete = []
    for entry in result["variants"]:
        if entry["name"] in finished:
            entry.update(stats.variant_scores([stats.cell_scores(rows, common, plan.folds)
                                               for rows in finished[entry["name"]]]))
            complete.append(entry)
    result["comparisons"] = stats.comparisons(complete)
    return result


def write_result(folder: Path, result: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (RESULT_FILE + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(folder / RESULT_FILE)


def read_result(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(folder) / RESULT_FILE).read_text())
    except (OSError, ValueError):
        return None


def list_experiments(settings: Settings) -> list[dict[str, Any]]:
    """Every experiment under the data folder's experiments/, newest first."""
    root = experiments_dir(settings)
    found = [r for r in (read_result(p.parent) for p in root.glob(f"*/{RESULT_FILE}")) if r]
    return sorted(found, key=lambda r: r.get("created") or "", reverse=True)


def get_experiment(settings: Settings, experiment_id: str) -> dict[str, Any] | None:
    if not experiment_id.isalnum():
        return None
    return read_result(experiments_dir(settings) / experiment_id)


def experiment_of_job(settings: Settings, job_params: dict[str, Any]) -> dict[str, Any] | None:
    """The experiment an `experiment` job runs (its id is its spec's digest), once the job
    has written its experiment.json; None before that."""
    try:
        spec = ExperimentSpec.model_validate(job_params)
    except ValueError:  # a job stored by an older Onset, or not an experiment
        return None
    return get_experiment(settings, spec.digest())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
