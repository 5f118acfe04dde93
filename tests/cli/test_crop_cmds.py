"""`onset crop` as a user runs it: JSON summary, cache reuse, filters, bad options."""

import json

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.support.ckplus import SeqSpec, write_ckplus


@pytest.fixture
def env(settings):
    return {"ONSET_DATA_DIR": str(settings.data_dir),
            "ONSET_DATABASE_URL": settings.resolved_database_url}


def run(env, *args):
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def imported(env, tmp_path):
    root = write_ckplus(tmp_path / "ck", [SeqSpec("S005", "001", frames=3),
                                          SeqSpec("S010", "001", frames=2)])
    write_ckplus(root, [SeqSpec("S005", "002", frames=2)], landmarks=False)
    assert run(env, "import", str(root), "--json").exit_code == 0
    return root


def test_json_summary_then_a_cached_rerun(env, imported):
    first = run(env, "crop", "--source", "landmarks", "--size", "24", "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert {"frames", "faces", "no_face", "seconds", "cached"} <= summary.keys()
    assert (summary["frames"], summary["faces"], summary["cached"]) == (7, 5, 0)
    assert len(summary["no_face"]) == 2 and all(isinstance(i, int) for i in summary["no_face"])
    assert all("no landmarks file" in reason for reason in summary["no_face_reasons"].values())
    assert summary["crops_written"] == 5 and isinstance(summary["seconds"], float)

    again = json.loads(run(env, "crop", "--source", "landmarks", "--size", "24",
                           "--json").stdout)
    assert (again["cached"], again["detected"], again["crops_written"],
            again["crops_cached"]) == (7, 0, 0, 5)
    assert again["no_face"] == summary["no_face"]


def test_subject_and_sequence_filters(env, imported):
    subject = json.loads(run(env, "crop", "--source", "landmarks", "--subject", "S005",
                             "--json").stdout)
    assert subject["frames"] == 5
    sequence = json.loads(run(env, "crop", "--source", "landmarks", "--sequence", "S010/001",
                              "--json").stdout)
    assert (sequence["frames"], sequence["faces"], sequence["no_face"]) == (2, 2, [])


def test_human_summary_lists_frames_without_a_face(env, imported):
    result = run(env, "crop", "--source", "landmarks")
    assert result.exit_code == 0, result.output
    assert "7 frame(s): 5 with a face, 2 without" in result.output
    assert result.output.count("no face") == 2 and "no landmarks file" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (("--source", "haar"), "--source: 'haar' is not one of mtcnn, landmarks"),
    (("--size", "4"), "--size: must be at least 8, got 4"),
    (("--color", "sepia"), "--color: 'sepia' is not one of gray, rgb"),
    (("--margin", "5"), "--margin: must be at most 2, got 5"),
    (("--min-face-size", "5"), "--min-face-size: must be at least 20, got 5"),
    (("--subject", "S404"), "unknown subject S404"),
    (("--sequence", "S005/009"), "unknown sequence S005/009"),
    (("--sequence", "S005"), "sequence must look like S005/001"),
    (("--subject", "S010", "--sequence", "S005/001"), "is not in subject S010"),
])
def test_bad_options_exit_2_naming_the_problem(env, imported, args, message):
    result = run(env, "crop", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_crop_before_any_import_is_a_clear_error(env):
    result = run(env, "crop", "--source", "landmarks")
    assert result.exit_code == 2 and "no dataset imported" in result.output


def test_unreadable_frames_exit_1_and_are_named(env, imported):
    (imported / "cohn-kanade-images/S010/001/S010_001_00000002.png").unlink()
    result = run(env, "crop", "--source", "landmarks", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert len(summary["errors"]) == 1 and "S010_001_00000002.png" in summary["errors"][0]
    assert summary["crops_written"] == 4


@pytest.mark.slow
def test_mtcnn_on_a_real_face(env, tmp_path):
    from tests.services.test_crops_mtcnn import write_astronaut_ckplus

    root = write_astronaut_ckplus(tmp_path / "ck")
    assert run(env, "import", str(root), "--json").exit_code == 0
    result = run(env, "crop", "--sequence", "S900/002", "--json")  # mtcnn is the default
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["frames"], summary["faces"], summary["source"]) == (1, 0, "mtcnn")
    [blank] = summary["no_face"]
    assert "no face found by mtcnn" in summary["no_face_reasons"][str(blank)]
    result = run(env, "crop", "--sequence", "S900/001", "--no-fast-path", "--size", "48",
                 "--json")
    summary = json.loads(result.stdout)
    assert (summary["frames"], summary["faces"], summary["crops_written"]) == (4, 4, 4)
