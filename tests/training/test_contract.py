"""The app/training seam, declared once in training/contract.py: what the export writes is
what training reads, one image block spelling, one progress event schema."""

import csv
import json

import pytest

from training import contract, data
from training.framing import DEFAULT_FRAMING, Framing


def test_the_manifest_the_export_writes_starts_with_what_training_reads(tmp_path):
    from app.services.export import pipeline

    header = contract.manifest_columns(split=True)
    assert header[:6] == list(contract.MANIFEST_COLUMNS) == list(data.MANIFEST_COLUMNS)
    assert header[6:] == ["split", "sequence_id", "source_frame_id"]
    assert pipeline.manifest_columns is contract.manifest_columns  # no second declaration
    # A manifest in the writer's header loads; one without a read column is refused by name.
    (tmp_path / "images" / "happy").mkdir(parents=True)
    (tmp_path / "images" / "happy" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    row = {"path": "images/happy/a.png", "label": "happy", "subject": "S1", "sequence": "001",
           "frame": 3, "fold": 1, "split": "train", "sequence_id": 7, "source_frame_id": 9}
    with open(tmp_path / contract.MANIFEST_FILE, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerow(row)
    (tmp_path / contract.DATASET_FILE).write_text(json.dumps(
        {"format": contract.DATASET_FORMAT, "labels": ["happy", "sadness"]}))
    loaded = data.load_export(tmp_path)
    assert loaded.paths == ["images/happy/a.png"] and loaded.frames.tolist() == [3]
    (tmp_path / contract.MANIFEST_FILE).write_text("path,label,subject,sequence,fold\n")
    with pytest.raises(data.DatasetError, match="missing column"):
        data.load_export(tmp_path)


@pytest.mark.parametrize("framing", [Framing(side=2.4, down=0.1), None])
def test_the_image_block_round_trips_through_its_one_reader(framing):
    block = contract.image_block(face="mtcnn" if framing else "none", size=48, color="rgb",
                                 framing=framing)
    read = contract.read_dataset_image({"image": json.loads(json.dumps(block))})
    assert (read.face, read.size, read.color) == (block["face"], 48, "rgb")
    assert read.framing == (framing or DEFAULT_FRAMING)
    # A run's face_crop (to_dict) reads back as the same spec.
    again = contract.read_image(read.to_dict())
    assert (again.face, again.size, again.color, again.framing) == (
        read.face, read.size, read.color, read.framing)
    params = again.crop_params(size=96, color="gray")
    assert (params.size, params.color, params.framing) == (48, "rgb", read.framing)


def test_old_spellings_are_read_into_the_one_spelling():
    old = contract.read_dataset_image({"policy": {"face": "precropped"},
                                       "image": {"mode": "L", "size": "64x64", "margin": 0.2}})
    assert (old.face, old.size, old.color) == ("precropped", 64, "gray")
    assert old.framing == Framing.from_margin(0.2)
    assert contract.framing_for(0.2) == old.framing and contract.framing_for() == DEFAULT_FRAMING
    with pytest.raises(contract.ImageSpecError, match="image.framing: unknown framing"):
        contract.read_image({"framing": {"zoom": 2}})


def test_every_progress_line_has_the_one_schema(tmp_path):
    writer = contract.ProgressWriter(tmp_path / contract.PROGRESS_FILE)
    writer.emit("start", folds=2)
    writer.step("crops", 1, 1)
    lines = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert [e["event"] for e in lines] == ["start", "progress"]
    assert all({"event", "time", "elapsed_s"} <= set(e) for e in lines)
    assert lines[0]["folds"] == 2 and (lines[1]["stage"], lines[1]["done"]) == ("crops", 1)
