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


def _snapshot(session, tmp_path, folds=None):
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    counts = {"folds": {str(i): {"images": 5} for i in range(folds)}} if folds else {}
    session.add(ExportSnapshot(id="snap", path=str(folder), params={}, counts=counts,
                               selection={}))
    session.flush()
    return folder


def test_train_takes_a_config_file_instead_of_a_preset(session, settings, tmp_path):
    from tests.support.tiny_jobs import write_fast_config

    _snapshot(session, tmp_path)
    config = write_fast_config(tmp_path / "tiny.json")
    argv, clean = build(session, settings, tmp_path, "train", dataset="snap",
                        preset="default", config=str(config), folds="", epochs="")
    assert argv[argv.index("--config") + 1] == str(config.resolve())
    assert "--preset" not in argv and "--folds" not in argv and "--epochs" not in argv
    assert clean["config"] == str(config.resolve()) and clean["preset"] is None

    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "conv_blocks": [{"filters": 8, "activation": "relux"}]}')
    with pytest.raises(JobParamError, match=r"^config: .*broken\.json.*relux"):
        build(session, settings, tmp_path, "train", dataset="snap", config=str(broken))
    with pytest.raises(JobParamError, match="config: no config file at /nowhere.json"):
        build(session, settings, tmp_path, "train", dataset="snap", config="/nowhere.json")


def test_more_folds_than_the_snapshot_has_are_refused_up_front(session, settings, tmp_path):
    _snapshot(session, tmp_path, folds=4)
    with pytest.raises(JobParamError, match="folds: 10 is more than snapshot snap has "
                                            r"\(4\); leave it blank"):
        build(session, settings, tmp_path, "train", dataset="snap", folds=10)
    argv, _ = build(session, settings, tmp_path, "train", dataset="snap", folds=4)
    assert argv[argv.index("--folds") + 1] == "4"


def test_tune_passes_epochs_and_folds_and_writes_runs_into_the_job(session, settings,
                                                                    tmp_path):
    folder = _snapshot(session, tmp_path, folds=3)
    argv, clean = build(session, settings, tmp_path, "tune", dataset="snap", trials=2,
                        max_minutes=1, algorithm="random", epochs=3, folds=2)
    assert argv[3:5] == ["tune", str(folder)]
    assert argv[argv.index("--epochs") + 1] == "3" and argv[argv.index("--folds") + 1] == "2"
    assert argv[argv.index("--out") + 1] == str(tmp_path / "job" / "runs")
    assert clean == {"dataset": "snap", "trials": 2, "max_minutes": 1, "algorithm": "random",
                     "epochs": 3, "folds": 2}
