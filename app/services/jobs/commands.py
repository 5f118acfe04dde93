"""What each kind of background job is: its spec, the checks that need the database, and
the one command every job process runs.

A job stores its checked spec (`spec_dump`) and its process is `python -m app job run ID`,
which loads the job, checks the stored spec again and runs the same code as the matching
`onset` command, in a process of its own, so a crash or a long TensorFlow run can never
stall the web server. No options are spelled out as argv and parsed back."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.models import ExportSnapshot
from app.services.experiments.spec import ExperimentSpec
from app.services.export.params import ExportSpec
from app.services.faces.spec import CropSpec
from app.services.training_specs import TrainSpec, TuneSpec
from app.specs import SpecError, parse_spec

SPECS: dict[str, type[BaseModel]] = {"export": ExportSpec, "crop": CropSpec,
                                     "experiment": ExperimentSpec,
                                     "train": TrainSpec, "tune": TuneSpec}
KINDS = tuple(SPECS)


class JobParamError(SpecError):
    """A job parameter is wrong; the message names it."""


def check_job(session: Session, *, kind: str, params: dict[str, Any] | BaseModel) -> BaseModel:
    """The job's spec, checked against the database too (the snapshot exists and has the
    folds asked for): refused now, not minutes later inside the job."""
    if kind not in SPECS:
        raise JobParamError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    spec = params if isinstance(params, SPECS[kind]) else parse_spec(
        SPECS[kind], dict(params), error=JobParamError)
    if isinstance(spec, (TrainSpec, TuneSpec)):
        _check_folds(snapshot_for(session, spec.dataset), spec.folds)
    return spec


def snapshot_for(session: Session, dataset: str) -> ExportSnapshot:
    """Jobs train on recorded snapshots (the pages and the API pick them by id)."""
    snapshot = session.get(ExportSnapshot, dataset)
    if snapshot is None:
        raise JobParamError("dataset", f"no export snapshot with id {dataset!r}")
    if not Path(snapshot.path).exists():
        raise JobParamError("dataset", f"snapshot {dataset} is no longer on disk at "
                                       f"{snapshot.path}")
    return snapshot


def _check_folds(snapshot: ExportSnapshot, folds: int | None) -> None:
    known = [f for f, c in (snapshot.counts or {}).get("folds", {}).items()
             if not isinstance(c, dict) or c.get("images", 1)]
    if folds is not None and known and folds > len(known):
        raise JobParamError("folds", f"{folds} is more than snapshot {snapshot.id} has "
                                     f"({len(known)}); leave it blank to use all of them")


def spec_dump(spec: BaseModel) -> dict[str, Any]:
    """What a job stores: JSON values in the spec's own vocabulary, read back by check_job."""
    return spec.model_dump(mode="json")


def job_argv(template: str, job_id: int) -> list[str]:
    """settings.job_command for one job, as argv (the default: python -m app job run ID)."""
    return [part.format(python=sys.executable, id=job_id) for part in shlex.split(template)]
