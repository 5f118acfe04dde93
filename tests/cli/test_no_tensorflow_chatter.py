"""Help and bad input never load TensorFlow, so none of its start-up lines (absl, oneDNN,
cpu_feature_guard) reach the terminal, a job log or the server log; the error is one line.

Each command runs as its own process (`python -m app`, as background jobs run it). The tests
run it twice: as users do, and with TF_CPP_MIN_LOG_LEVEL=0 as a tripwire, under which
TensorFlow announces itself the moment it loads, so a path checked only after the import
shows up here."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHATTER = ("oneDNN", "cpu_feature_guard", "absl", "I0000", "W0000", "E0000", "tensorflow",
           "TensorFlow", "rebuild TensorFlow")


def _onset(*argv: str, tripwire: bool, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ONSET_DATA_DIR": str(data_dir), "COLUMNS": "100"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if tripwire:
        env["TF_CPP_MIN_LOG_LEVEL"] = "0"
    return subprocess.run([sys.executable, "-m", "app", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _bad_export(folder: Path) -> Path:
    folder.mkdir()
    (folder / "dataset.json").write_text(json.dumps({"format": "not-an-export"}))
    (folder / "manifest.csv").write_text("path,label\nimages/a.png,happy\n")
    return folder


def _cases(tmp: Path) -> dict[str, tuple[list[str], int, str]]:
    photo = tmp / "photo.png"
    photo.write_bytes(b"not really a png")
    empty_run = tmp / "empty-run"
    empty_run.mkdir()
    bad = _bad_export(tmp / "bad-export")
    return {
        "train --help": (["train", "--help"], 0, "train [OPTIONS] DATASET"),
        "predict, no run": (["predict", str(tmp / "no-such-run"), str(photo)], 2,
                            "error: run folder not found"),
        "predict, not a run": (["predict", str(empty_run), str(photo)], 2,
                               "model.keras is missing"),
        "evaluate, no run": (["evaluate", str(tmp / "no-such-run"), str(tmp)], 2,
                             "error: run folder not found"),
        "train, bad export": (["train", str(bad)], 2, "is not an onset-dataset export"),
        "train, no export": (["train", str(tmp / "missing.zip")], 2, "error: "),
        "tune, bad export": (["tune", str(bad)], 2, "is not an onset-dataset export"),
    }


@pytest.mark.parametrize("tripwire", [False, True], ids=["as-users-run-it", "tripwire"])
def test_help_and_bad_input_print_no_tensorflow_lines(tmp_path, tripwire):
    for name, (argv, code, expected) in _cases(tmp_path).items():
        done = _onset(*argv, tripwire=tripwire, data_dir=tmp_path / "var")
        output = done.stdout + done.stderr
        assert done.returncode == code, (name, output)
        assert expected in output, (name, output)
        noisy = [line for line in output.splitlines() if any(w in line for w in CHATTER)]
        assert noisy == [], (name, noisy)
        if code:
            assert len(done.stderr.strip().splitlines()) == 1, (name, done.stderr)
