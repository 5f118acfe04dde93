"""Job parameters are validated before anything is queued, with the field named."""

import pytest

from app.models import ExportSnapshot
from app.services.job_commands import JobParamError, build_command


def build(session, settings, tmp_path, kind, **params):
    return build_command(session, settings, kind=kind, params=params, job_dir=tmp_path / "job")


@pytest.mark.parametrize("kind, params, message", [
    ("paint", {}, "kind: 'paint' is not one of"),
    ("train", {}, "dataset: required"),
    ("train", {"dataset": "nope"}, "dataset: no export snapshot with id 'nope'"),
    ("tune", {"dataset": "x", "trials": "many"}, "trials: 'many' is not a whole number"),
    ("crop", {"source": "opencv"}, "source: 'opencv' is not one of"),
    ("export", {"percent": 120}, "percent: must be at least 0 and below 100"),
    ("export", {"exclude": "contempt, joy"}, "exclude: "),
])
def test_bad_parameters_are_named(session, settings, tmp_path, kind, params, message):
    with pytest.raises(JobParamError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(session, settings, tmp_path, kind, **params)


def test_train_runs_the_cli_on_the_snapshot_folder(session, settings, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    session.add(ExportSnapshot(id="abc123", path=str(folder), params={}, counts={},
                               selection={}))
    session.flush()
    argv, clean = build(session, settings, tmp_path, "train", dataset="abc123",
                        preset="baseline", folds=2, epochs=3)
    assert argv[1:4] == ["-m", "app", "train"] and argv[4] == str(folder)
    assert argv[argv.index("--epochs") + 1] == "3"
    assert clean == {"dataset": "abc123", "preset": "baseline", "folds": 2, "epochs": 3,
                     "seed": 0}


def test_export_options_become_cli_options(session, settings, tmp_path):
    argv, clean = build(session, settings, tmp_path, "export", policy="peak", peak_frames="4",
                        exclude=["contempt"], split="70/15/15")
    assert argv[3:5] == ["export", str(tmp_path / "job" / "export")]
    assert argv[argv.index("--peak-frames") + 1] == "4"
    assert argv[argv.index("--exclude") + 1] == "contempt"
    assert argv[argv.index("--split") + 1] == "70/15/15"
    assert clean["policy"] == "peak"
