"""A job is its operation's spec, checked (with the database) before anything is queued;
its process runs `python -m app job run ID`, which reads the stored spec back."""

import sys

import pytest

from app.models import ExportSnapshot
from app.services.jobs.commands import JobParamError, check_job, job_argv, spec_dump


def check(session, kind, **params):
    return check_job(session, kind=kind, params=params)


def _snapshot(session, tmp_path, folds=None):
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    counts = {"folds": {str(i): {"images": 5} for i in range(folds)}} if folds else {}
    session.add(ExportSnapshot(id="snap", path=str(folder), params={}, counts=counts,
                               selection={}))
    session.flush()
    return folder


@pytest.mark.parametrize("kind, params, message", [
    ("paint", {}, "kind: 'paint' is not one of export, crop, experiment, train, tune"),
    ("train", {}, "dataset: Field required"),
    ("train", {"dataset": "nope"}, "dataset: no export snapshot with id 'nope'"),
    ("tune", {"dataset": "x", "trials": "many"}, "trials: 'many' is not a whole number"),
    ("tune", {"dataset": "x", "algorithm": "grid"}, "algorithm: 'grid' is not one of"),
    ("crop", {"source": "opencv"}, "source: 'opencv' is not one of mtcnn, landmarks"),
    ("export", {"percent": 120}, "percent: must be below 100, got 120"),
    ("export", {"exclude": "contempt, joy"}, "exclude: unknown class 'joy'"),
    ("export", {"argv": ["rm"]}, "argv: unknown option"),
])
def test_bad_parameters_are_named(session, kind, params, message):
    with pytest.raises(JobParamError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(session, kind, **params)


def test_a_stored_spec_reads_back_as_the_same_spec(session, tmp_path):
    _snapshot(session, tmp_path)
    for kind, params in [("export", {"policy": "peak", "peak_frames": "4",
                                     "exclude": ["contempt"], "split": "70/15/15"}),
                         ("crop", {"source": "landmarks", "size": "64"}),
                         ("train", {"dataset": "snap", "preset": "baseline", "folds": "",
                                    "epochs": "3"}),
                         ("tune", {"dataset": "snap", "trials": 2, "backbones": ["none"]})]:
        spec = check(session, kind, **params)
        stored = spec_dump(spec)
        assert check(session, kind, **stored) == spec, kind
    assert spec_dump(check(session, "export", split="70/15/15"))["split"] == "70/15/15"


def test_train_takes_a_config_file_instead_of_a_preset(session, tmp_path):
    from tests.support.tiny_jobs import write_fast_config

    _snapshot(session, tmp_path)
    config = write_fast_config(tmp_path / "tiny.json")
    spec = check(session, "train", dataset="snap", config=str(config), folds="", epochs="")
    assert spec.config == str(config.resolve()) and spec.preset is None
    assert spec.folds is None and spec.epochs is None

    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "conv_blocks": [{"filters": 8, "activation": "relux"}]}')
    with pytest.raises(JobParamError, match=r"^config: .*relux"):
        check(session, "train", dataset="snap", config=str(broken))
    with pytest.raises(JobParamError, match="config: no config file at /nowhere.json"):
        check(session, "train", dataset="snap", config="/nowhere.json")
    with pytest.raises(JobParamError, match="either a preset or a config file"):
        check(session, "train", dataset="snap", config=str(config), preset="scratch")


def test_more_folds_than_the_snapshot_has_are_refused_up_front(session, tmp_path):
    _snapshot(session, tmp_path, folds=4)
    with pytest.raises(JobParamError, match="folds: 10 is more than snapshot snap has "
                                            r"\(4\); leave it blank"):
        check(session, "train", dataset="snap", folds=10)
    assert check(session, "tune", dataset="snap", folds=4).folds == 4


def test_the_job_command_is_the_setting_with_the_id_filled_in():
    assert job_argv("{python} -m app job run {id}", 7) == [sys.executable, "-m", "app",
                                                           "job", "run", "7"]
    assert job_argv("nice -n 10 {python} -m app job run {id}", 7)[:3] == ["nice", "-n", "10"]
