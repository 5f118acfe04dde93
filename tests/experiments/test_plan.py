"""Planning refuses what cannot give a fair answer, before any export or training."""

import json

import pytest

from app.services.experiments import ExperimentError, ExperimentSpec, make_plan
from app.specs import parse_spec
from tests.experiments.conftest import BASE, SUBJECTS, build, onset_cli

BASE_OPTIONS = {"face": "none", "size": 32}


def plan(session, **options):
    spec = parse_spec(ExperimentSpec, {"base": BASE_OPTIONS, "folds": 3, **options})
    return make_plan(session, spec)


def test_folds_come_from_the_base_and_the_common_set_is_every_variants_peak(ck_db, session):
    made = plan(session, vary=["policy=onset,percent:50,peak:2"])
    assert sorted(made.folds) == SUBJECTS and set(made.folds.values()) == {0, 1, 2}
    # peak:2 keeps frames 7-8, so the common set is those (test_frames 3 asks for 6-8).
    assert {key[2] for key in made.common} == {7, 8}
    assert len(made.common) == len(SUBJECTS) * 3 * 2
    onset = made.variant("policy=onset")
    assert min(n for (s, q, n) in onset.labels if q == "001") == 3  # the marked onset
    assert len({c.key for c in made.cells}) == 3


def test_the_cell_key_changes_with_what_decides_a_run(ck_db, session):
    one = plan(session, vary=["policy=onset,peak:2"])
    again = plan(session, vary=["policy=peak:2,onset"])
    assert {c.variant: c.key for c in one.cells} == {c.variant: c.key for c in again.cells}
    seeds = plan(session, vary=["policy=onset,peak:2"], seeds=2)
    assert len({c.key for c in seeds.cells}) == 4
    longer = plan(session, vary=["policy=onset,peak:2"], epochs=3)
    assert not {c.key for c in one.cells} & {c.key for c in longer.cells}


def test_too_few_subjects_for_the_folds(ck_db, session):
    with pytest.raises(ExperimentError, match="7 folds need at least 7 subjects"):
        plan(session, vary=["policy=onset"], folds=7)


def test_a_class_that_a_folds_training_never_sees(settings, session_factory, tmp_path):
    build(session_factory, tmp_path / "ck", contempt_subjects=("S010",))
    with session_factory() as session:
        with pytest.raises(ExperimentError, match="class contempt has images in fold"):
            plan(session, vary=["contempt=keep,drop"])
        dropped = plan(session, vary=["contempt=drop,merge:happy"])
    assert all("contempt" not in v.labels.values() for v in dropped.variants)


def test_contempt_variants_share_only_the_sequences_labelled_alike(settings, session_factory,
                                                                   tmp_path):
    build(session_factory, tmp_path / "ck", contempt_subjects=("S010", "S011", "S012"))
    with session_factory() as session:
        made = plan(session, vary=["contempt=keep,drop"])
    keep = made.variant("contempt=keep")
    assert "contempt" in keep.labels.values()
    assert "contempt" not in made.common.values()  # drop has no contempt: not common
    assert len(made.common) == len(SUBJECTS) * 3 * 3


def test_cli_errors_are_one_line_exit_2_before_any_training(ck_db, tmp_path):
    cases = [
        (["--vary", "colour=red"], "error: --vary: unknown factor 'colour'"),
        (["--vary", "policy=onset", "--folds", "7", *BASE], "7 folds need at least 7"),
        (["--vary", "policy=onset", "--folds", "1"], "error: --folds:"),
        (["--vary", "policy=onset", *BASE, "--base-option", "colour=blue"],
         "error: base option colour: unknown option"),
    ]
    for args, words in cases:
        done = onset_cli(ck_db, "experiment", *args)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], done.stderr
    assert not ck_db.runs_dir.exists()


def test_a_finished_experiment_asked_again_with_other_settings(ck_db, tmp_path):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "experiment.json").write_text(json.dumps({
        "id": "abc", "status": "done",
        "spec": parse_spec(ExperimentSpec, {"vary": ["policy=onset"], "folds": 3}
                           ).model_dump(mode="json")}))
    done = onset_cli(ck_db, "experiment", "--vary", "policy=onset", "--folds", "2", *BASE,
                     "--out", str(out))
    assert done.returncode == 2
    assert "holds experiment abc run with other settings (base, folds differ)" in done.stderr


def test_variants_selecting_the_same_images_share_one_cell(ck_db, session):
    # The fixture's landmark files are the same in every frame, so no onset can be suggested:
    # `suggested` falls back to the 50% rule like `onset` and selects the very same images.
    made = plan(session, vary=["policy=onset,suggested,percent:0"])
    keys = {c.variant: c.key for c in made.cells}
    assert made.variant("policy=onset").dataset_id == made.variant("policy=suggested").dataset_id
    assert keys["policy=onset"] == keys["policy=suggested"]
    assert keys["policy=percent:0"] != keys["policy=onset"]
