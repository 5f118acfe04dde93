"""`onset export` as a user (or a background job) runs it."""

import json
import zipfile

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.models import ExportSnapshot
from tests.services.export_helpers import build_dataset, manifest_frames

SMALL = ["--face", "none", "--size", "16", "--folds", "2", "--percent", "30"]


@pytest.fixture
def env(settings):
    return {"ONSET_DATA_DIR": str(settings.data_dir),
            "ONSET_DATABASE_URL": settings.resolved_database_url}


@pytest.fixture
def dataset(session, tmp_path):
    return build_dataset(session, tmp_path / "ck")


def run(env, *args):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def test_export_json_and_snapshot_pointing_at_out(env, dataset, session, tmp_path):
    out = tmp_path / "not-yet" / "curated"  # parents are created
    result = run(env, "export", out, *SMALL, "--neutral-frames", "1", "--merge",
                 "contempt=disgust", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"id", "path", "counts", "left_out"}
    assert data["path"] == str(out)
    assert data["left_out"]["disagreement"] == 1 and data["counts"]["images"] > 0
    frames = manifest_frames((out / "manifest.csv").read_text())
    assert frames["S014_001"] == [(1, "neutral"), (7, "disgust"), (8, "disgust"),
                                  (9, "disgust")]
    session.expire_all()
    snapshot = session.get(ExportSnapshot, data["id"])
    assert snapshot.path == str(out) and snapshot.params["merge"] == ["contempt=disgust"]

    again = json.loads(run(env, "export", tmp_path / "again", *SMALL, "--neutral-frames", "1",
                           "--merge", "contempt=disgust", "--json").stdout)
    assert again["id"] == data["id"]
    assert (tmp_path / "again/manifest.csv").read_bytes() == (out / "manifest.csv"
                                                             ).read_bytes()


def test_zip_output_and_human_summary(env, dataset, settings, tmp_path):
    result = run(env, "export", tmp_path / "data.zip", "--zip", *SMALL, "--split", "50/25/25")
    assert result.exit_code == 0, result.output
    assert "Exported" in result.output and "split: train" in result.output
    archive = zipfile.ZipFile(tmp_path / "data.zip")
    info = json.loads(archive.read("dataset.json"))
    folder = settings.exports_dir / info["id"]  # the folder stays downloadable from the app
    assert sorted(archive.namelist()) == sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert "split" in archive.read("manifest.csv").decode().splitlines()[0]


@pytest.mark.parametrize(("args", "words"), [
    (["--percent", "120"], "--percent: must be below 100, got 120"),
    (["--exclude", "boredom"], "--exclude: unknown class 'boredom'"),
    (["--merge", "contempt"], "--merge: 'contempt' is not FROM=INTO"),
    (["--folds", "50"], "--folds: 50 folds need at least 50 subjects"),
    (["--split", "70-15-15"], "--split: '70-15-15' is not three numbers"),
    (["--policy", "middle"], "--policy: 'middle' is not one of onset, percent, peak"),
])
def test_bad_options_exit_2_naming_the_option(env, dataset, tmp_path, args, words):
    out = tmp_path / "out"
    result = run(env, "export", out, "--face", "none", "--size", "16", "--folds", "2", *args)
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert not out.exists()


def test_nothing_imported_exits_1(env, tmp_path):
    result = run(env, "export", tmp_path / "out", *SMALL)
    assert result.exit_code == 1 and "onset import" in result.output


def test_refuses_a_folder_that_is_not_an_export(env, dataset, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    result = run(env, "export", tmp_path / "notes", *SMALL)
    assert result.exit_code == 1 and "not an Onset export" in " ".join(result.output.split())
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"
