"""KerasTuner's chief/worker mode for real: two `onset tune` processes on 127.0.0.1."""

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

try:
    import grpc  # noqa: F401  (distributed tuning talks gRPC)
except ImportError:  # pragma: no cover - grpcio is a declared dependency
    grpc = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(grpc is None, reason="grpcio is not installed: KerasTuner's distributed "
                                         "mode needs it")
def test_chief_and_one_worker_share_a_search(tiny_export, tmp_path):
    onset = str(Path(sys.executable).parent / "onset")
    port = str(_free_port())
    command = [onset, "tune", str(tiny_export), "--trials", "2", "--epochs", "1",
               "--algorithm", "random", "--out", str(tmp_path), "--search-only"]

    def start(tuner_id):
        env = {**os.environ, "KERASTUNER_TUNER_ID": tuner_id,
               "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": port,
               "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
               "COLUMNS": "250"}  # keep rich from wrapping the lines checked below
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    chief, worker = start("chief"), start("tuner0")
    try:
        worker_out, _ = worker.communicate(timeout=120)
        chief_out, _ = chief.communicate(timeout=60)
    finally:
        for proc in (chief, worker):
            if proc.poll() is None:
                proc.kill()
    assert worker.returncode == 0, worker_out[-3000:]
    assert chief.returncode == 0, chief_out[-3000:]
    assert "[distributed: worker]" in worker_out and "[distributed: chief]" in chief_out

    (tuning_dir,) = tmp_path.glob("tune-*-random")
    with open(tuning_dir / "trials.csv", newline="") as fh:
        trials = list(csv.DictReader(fh))
    # The chief's oracle recorded both trials; the worker trained them.
    assert [t["status"] for t in trials] == ["COMPLETED", "COMPLETED"]
    assert len(list((tuning_dir / "worker-tuner0").glob("trial_*"))) == 2
    assert (tuning_dir / "best_config.json").is_file()
