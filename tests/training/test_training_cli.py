"""`onset train|tune|predict|evaluate` as a user runs them (in-process, real training)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from app.cli import cli
from training.config import save


@pytest.fixture
def runner():
    return CliRunner()


def test_import_of_the_cli_stays_free_of_tensorflow():
    code = "import sys, app.cli; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_help_lists_the_training_commands(runner):
    result = runner.invoke(cli, ["--help"])
    for command in ("train", "tune", "predict", "evaluate"):
        assert command in result.output
    assert "--max-minutes" in runner.invoke(cli, ["tune", "--help"]).output


def test_bad_export_is_one_line_and_exit_code_2(runner, tiny_export, tmp_path):
    broken = shutil.copytree(tiny_export, tmp_path / "broken")
    (broken / "manifest.csv").unlink()
    for args in (["train", str(broken)], ["tune", str(broken), "--trials", "1"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert "manifest.csv is missing" in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_bad_config_and_arguments_exit_2(runner, tiny_export, tmp_path):
    (tmp_path / "c.json").write_text('{"input_size": 48, "depth": 3}')
    result = runner.invoke(cli, ["train", str(tiny_export), "--config", str(tmp_path / "c.json")])
    assert result.exit_code == 2 and "config.depth: unknown key" in result.output
    result = runner.invoke(cli, ["train", str(tiny_export), "--preset", "nope"])
    assert result.exit_code == 2 and "preset" in result.output and "'nope'" in result.output
    result = runner.invoke(cli, ["tune", str(tiny_export), "--algorithm", "grid"])
    assert result.exit_code == 2 and "algorithm" in result.output and "'grid'" in result.output


@pytest.mark.slow
def test_train_json_then_predict_and_evaluate(runner, tiny_export, tiny_config, tmp_path):
    save(tiny_config, tmp_path / "tiny.json")
    # No --out: the run goes to $ONSET_DATA_DIR/runs, where the web app lists runs.
    trained = runner.invoke(cli, ["train", str(tiny_export), "--config",
                                  str(tmp_path / "tiny.json"), "--folds", "2", "--epochs", "1",
                                  "--json"], env={"ONSET_DATA_DIR": str(tmp_path / "var")})
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert Path(summary["run_dir"]).parent == tmp_path / "var" / "runs"
    assert {"run_dir", "accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(summary)
    assert len(summary["accuracy"]["per_fold"]) == 2

    from skimage import data

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo)
    predicted = runner.invoke(cli, ["predict", summary["run_dir"], str(photo), "--json"])
    assert predicted.exit_code == 0, predicted.output
    (result,) = json.loads(predicted.stdout)
    assert len(result["faces"]) == 1
    assert sum(result["faces"][0]["probabilities"].values()) == pytest.approx(1, abs=1e-5)

    (tmp_path / "photos" / "happy").mkdir(parents=True)
    shutil.copy(photo, tmp_path / "photos" / "happy" / "a.jpg")
    evaluated = runner.invoke(cli, ["evaluate", summary["run_dir"], str(tmp_path / "photos"),
                                    "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert {"accuracy", "per_class", "confusion_matrix", "no_face"} <= set(report)
    assert report["evaluated"] == 1 and report["no_face"] == []

    missing = runner.invoke(cli, ["predict", str(tmp_path / "nope"), str(photo)])
    assert missing.exit_code == 2 and "run folder not found" in missing.output
