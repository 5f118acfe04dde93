"""A small imported CK+ tree with some reviewed onsets, and a training config that trains a
whole cell (5 folds and the final model, TensorFlow start-up included) in seconds.

Six subjects, each with a happy, a sadness and a surprise sequence of 8 frames (contempt in
two subjects when asked); rev1 marked onset 3 on every subject's happy sequence. Exports use
face "none" at 32 px, so no face is located."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.services.export_helpers import annotate, sequence_ids, user
from tests.support.ckplus import SeqSpec, import_specs
from tests.support.tiny_jobs import write_fast_config

SUBJECTS = ["S010", "S011", "S012", "S013", "S014", "S015"]
BASE = ["--base-option", "face=none", "--base-option", "size=32"]


def specs(contempt_subjects: tuple[str, ...] = ()) -> list[SeqSpec]:
    out = []
    for subject in SUBJECTS:
        for code, label in (("001", 5.0), ("002", 6.0), ("003", 7.0)):
            out.append(SeqSpec(subject, code, frames=8, label=label, size=(40, 32)))
        if subject in contempt_subjects:
            out.append(SeqSpec(subject, "004", frames=8, label=2.0, size=(40, 32)))
    return out


def build(session_factory, root: Path, contempt_subjects: tuple[str, ...] = ()) -> None:
    import_specs(session_factory, root, specs(contempt_subjects))
    with session_factory() as session:
        ids = sequence_ids(session)
        rev1 = user(session, "rev1")
        for subject in SUBJECTS:
            annotate(session, rev1, ids[f"{subject}_001"], label=5, onset=3)
        session.commit()


@pytest.fixture
def ck_db(settings, session_factory, tmp_path):
    """The database of `settings` with the tree above (no contempt) imported and reviewed."""
    build(session_factory, tmp_path / "ck")
    return settings


@pytest.fixture
def tiny_config(tmp_path) -> Path:
    return write_fast_config(tmp_path / "tiny.json")


def onset_cli(settings, *args: str) -> subprocess.CompletedProcess:
    """`onset ...` as a process on the settings' data folder and database."""
    env = {"ONSET_DATA_DIR": str(settings.data_dir),
           "ONSET_DATABASE_URL": settings.resolved_database_url,
           "PATH": "/usr/bin:/bin", "HOME": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True,
                          text=True, env=env, timeout=600)
