"""Helpers for tests that run real train jobs: the tiny export as a snapshot, and a training
config small enough that a whole job (TensorFlow start-up included) takes seconds."""

import json
from pathlib import Path

from sqlalchemy.orm import Session

from app.models import ExportSnapshot
from tests.support import tiny_training

SNAPSHOT_ID = "tiny-snapshot"


def add_tiny_snapshot(session: Session, export: Path, snapshot_id: str = SNAPSHOT_ID) -> str:
    """Register the tiny export folder the way `onset export` registers its snapshots."""
    if session.get(ExportSnapshot, snapshot_id) is None:
        session.add(ExportSnapshot(id=snapshot_id, path=str(export),
                                   params={"policy": "peak", "face": "landmarks"},
                                   counts={"images": 96, "subjects": 8}, selection={}))
    return snapshot_id


def write_fast_config(path: Path) -> Path:
    """The tiny config without augmentation: the same code path as the presets (a config file
    is what `onset train --config` takes), about half the wall time of the baseline preset."""
    config = tiny_training.tiny_config().to_dict()
    config["augmentation"].update(flip=False, rotation_deg=0, zoom=0, translation=0,
                                  contrast=0, brightness=0)
    path.write_text(json.dumps(config, indent=2))
    return path
