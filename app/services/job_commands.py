"""What each kind of background job runs: validated parameters in, an `onset` argv out.

Jobs run the same CLI a person would, in a process of their own, so a crash or a long
TensorFlow run can never stall the web server."""

import sys
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.models import ExportSnapshot
from training.config import PRESET_DESCRIPTIONS as PRESET_CHOICES

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


def _optional_int(params: dict, name: str, low: int, high: int) -> int | None:
    """A whole number, or None when left blank (the CLI's own default then applies)."""
    if params.get(name) in (None, "", 0, "0"):
        return None
    return _int(params, name, 0, low, high)


def _snapshot(session: Session, params: dict) -> ExportSnapshot:
    dataset = params.get("dataset")
    if not dataset:
        raise JobParamError("dataset: required (an export snapshot id)")
    snapshot = session.get(ExportSnapshot, str(dataset))
    if snapshot is None:
        raise JobParamError(f"dataset: no export snapshot with id {dataset!r}")
    if not Path(snapshot.path).exists():
        raise JobParamError(f"dataset: snapshot {dataset} is no longer on disk at "
                            f"{snapshot.path}")
    return snapshot


def _check_folds(snapshot: ExportSnapshot, folds: int | None) -> None:
    """Refuse more folds than the snapshot has now, not minutes later inside the job."""
    known = [f for f, c in (snapshot.counts or {}).get("folds", {}).items()
             if not isinstance(c, dict) or c.get("images", 1)]
    if folds is not None and known and folds > len(known):
        raise JobParamError(f"folds: {folds} is more than snapshot {snapshot.id} has "
                            f"({len(known)}); leave it blank to use all of them")


def _config_file(params: dict) -> str | None:
    """A training config JSON (or a run's config.json), checked the way `onset train` will."""
    from training.config import ConfigError, load

    value = params.get("config")
    if value in (None, ""):
        return None
    path = Path(str(value))
    if not path.is_file():
        raise JobParamError(f"config: no config file at {path}")
    try:
        load(path)
    except ConfigError as exc:
        raise JobParamError(f"config: {exc}") from None
    return str(path.resolve())


def build_command(session: Session, settings: Settings, *, kind: str, params: dict[str, Any],
                  job_dir: Path) -> tuple[list[str], dict[str, Any]]:
    """The argv to run and the normalised parameters to store with the job."""
    if kind not in KINDS:
        raise JobParamError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    onset = [sys.executable, "-m", "app"]
    if kind == "train":
        return _train_command(session, onset, params, job_dir)
    if kind == "tune":
        return _tune_command(session, onset, params, job_dir)
    if kind == "crop":
        clean = {"source": _choice(params, "source", "landmarks", ("landmarks", "mtcnn")),
                 "size": _int(params, "size", 64, 16, 512),
                 "color": _choice(params, "color", "gray", ("gray", "rgb"))}
        argv = [*onset, "crop", "--source", clean["source"], "--size", str(clean["size"]),
                "--color", clean["color"], "--json"]
        return argv, clean
    return _export_command(onset, params, job_dir)


def _train_command(session: Session, onset: list[str], params: dict, job_dir: Path):
    config = _config_file(params)
    clean: dict[str, Any] = {
        "dataset": str(params.get("dataset") or ""),
        "preset": None if config else _choice(params, "preset", "default",
                                              tuple(PRESET_CHOICES)),
        "folds": _optional_int(params, "folds", 2, 50),
        "epochs": _optional_int(params, "epochs", 1, 1000),
        "seed": _int(params, "seed", 0, 0, 2**31 - 1)}
    if config:
        clean["config"] = config
    snapshot = _snapshot(session, params)
    _check_folds(snapshot, clean["folds"])
    argv = [*onset, "train", snapshot.path,
            *(["--config", config] if config else ["--preset", clean["preset"]]),
            "--seed", str(clean["seed"]), "--out", str(job_dir / "runs")]
    for name in ("folds", "epochs"):
        if clean[name]:
            argv += [f"--{name}", str(clean[name])]
    return argv, clean


def _tune_command(session: Session, onset: list[str], params: dict, job_dir: Path):
    clean = {"dataset": str(params.get("dataset") or ""),
             "trials": _int(params, "trials", 10, 1, 500),
             "max_minutes": _int(params, "max_minutes", 30, 1, 24 * 60),
             "algorithm": _choice(params, "algorithm", "hyperband",
                                  ("hyperband", "bayesian", "random")),
             "epochs": _optional_int(params, "epochs", 1, 1000),
             "folds": _optional_int(params, "folds", 2, 50)}
    snapshot = _snapshot(session, params)
    _check_folds(snapshot, clean["folds"])
    argv = [*onset, "tune", snapshot.path, "--trials", str(clean["trials"]),
            "--max-minutes", str(clean["max_minutes"]), "--algorithm", clean["algorithm"],
            "--out", str(job_dir / "runs")]
    for name in ("epochs", "folds"):
        if clean[name]:
            argv += [f"--{name}", str(clean[name])]
    return argv, clean


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
