"""What each kind of background job runs: validated parameters in, an `onset` argv out.

Jobs run the same CLI a person would, in a process of their own, so a crash or a long
TensorFlow run can never stall the web server."""

import sys
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.models import ExportSnapshot

KINDS = ("export", "crop", "train", "tune")


class JobParamError(ValueError):
    """A job parameter is wrong; the message names it."""


def _int(params: dict, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise JobParamError(f"{name}: {value!r} is not a whole number") from None
    if not low <= value <= high:
        raise JobParamError(f"{name}: {value} is outside {low}..{high}")
    return value


def _choice(params: dict, name: str, default: str, choices: tuple[str, ...]) -> str:
    value = str(params.get(name, default))
    if value not in choices:
        raise JobParamError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return value


def _dataset_path(session: Session, params: dict) -> str:
    dataset = params.get("dataset")
    if not dataset:
        raise JobParamError("dataset: required (an export snapshot id)")
    snapshot = session.get(ExportSnapshot, str(dataset))
    if snapshot is None:
        raise JobParamError(f"dataset: no export snapshot with id {dataset!r}")
    if not Path(snapshot.path).exists():
        raise JobParamError(f"dataset: snapshot {dataset} is no longer on disk at "
                            f"{snapshot.path}")
    return snapshot.path


def build_command(session: Session, settings: Settings, *, kind: str, params: dict[str, Any],
                  job_dir: Path) -> tuple[list[str], dict[str, Any]]:
    """The argv to run and the normalised parameters to store with the job."""
    if kind not in KINDS:
        raise JobParamError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    onset = [sys.executable, "-m", "app"]
    if kind == "train":
        clean = {"dataset": str(params.get("dataset", "")),
                 "preset": _choice(params, "preset", "default", ("default", "baseline")),
                 "folds": _int(params, "folds", 10, 2, 50),
                 "epochs": _int(params, "epochs", 0, 0, 1000),
                 "seed": _int(params, "seed", 0, 0, 2**31 - 1)}
        argv = [*onset, "train", _dataset_path(session, params), "--preset", clean["preset"],
                "--folds", str(clean["folds"]), "--seed", str(clean["seed"]),
                "--out", str(job_dir / "runs")]
        if clean["epochs"]:
            argv += ["--epochs", str(clean["epochs"])]
        return argv, clean
    if kind == "tune":
        clean = {"dataset": str(params.get("dataset", "")),
                 "trials": _int(params, "trials", 10, 1, 500),
                 "max_minutes": _int(params, "max_minutes", 30, 1, 24 * 60),
                 "algorithm": _choice(params, "algorithm", "hyperband",
                                      ("hyperband", "bayesian", "random"))}
        argv = [*onset, "tune", _dataset_path(session, params), "--trials",
                str(clean["trials"]), "--max-minutes", str(clean["max_minutes"]),
                "--algorithm", clean["algorithm"], "--out", str(job_dir / "runs")]
        return argv, clean
    if kind == "crop":
        clean = {"source": _choice(params, "source", "landmarks", ("landmarks", "mtcnn")),
                 "size": _int(params, "size", 64, 16, 512),
                 "color": _choice(params, "color", "gray", ("gray", "rgb"))}
        argv = [*onset, "crop", "--source", clean["source"], "--size", str(clean["size"]),
                "--color", clean["color"], "--json"]
        return argv, clean
    return _export_command(onset, params, job_dir)


def _export_command(onset: list[str], params: dict, job_dir: Path):
    """Validated by the export service's own parser, then spelled as CLI options."""
    from app.services.export.params import ExportParamsError, parse_params

    try:
        clean = parse_params(params).as_dict()
    except ExportParamsError as exc:
        raise JobParamError(str(exc)) from None
    argv = [*onset, "export", str(job_dir / "export"), "--json"]
    for name, value in clean.items():
        if value is None or value == [] or name in ("exclude", "merge"):
            continue
        argv += [f"--{name.replace('_', '-')}", str(value)]
    for name in ("exclude", "merge"):
        for value in clean[name]:
            argv += [f"--{name}", value]
    if clean["color"] == "original":  # size 0: the CLI derives the colour itself
        argv = _drop_option(argv, "--color")
    return argv, clean


def _drop_option(argv: list[str], option: str) -> list[str]:
    i = argv.index(option)
    return argv[:i] + argv[i + 2:]
