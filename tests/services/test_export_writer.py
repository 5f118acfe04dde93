"""The export folder and zip: contract, reproducibility, byte-exact copies, all-or-nothing."""

import csv
import io
import json
import zipfile

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.models import ExportSnapshot
from app.services.export import (
    ExportError,
    parse_params,
    run_export,
    snapshot_folder,
    stream_zip,
)
from app.services.export import writer as writer_module
from tests.services.export_helpers import build_dataset, manifest_frames
from tests.support.ckplus import frame_path

NONE_16 = {"face": "none", "size": 16, "percent": 30, "folds": 2, "neutral_frames": 1}


def export(session, settings, options, out=None):
    result = run_export(session, settings, params=parse_params(options), out=out)
    session.commit()
    return result


def snapshot_count(session) -> int:
    return session.scalar(select(func.count()).select_from(ExportSnapshot))


def test_folder_follows_the_contract(session, settings, tmp_path):
    build_dataset(session, tmp_path / "ck")
    result = export(session, settings, {**NONE_16, "split": "60/20/20"})
    folder = result.path
    assert folder == settings.exports_dir / result.id
    manifest = (folder / "manifest.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(manifest)))
    assert list(rows[0]) == ["path", "label", "subject", "sequence", "frame", "fold", "split",
                             "sequence_id", "source_frame_id"]
    assert rows[0]["path"] == "images/neutral/S005_001_00000001.png"
    assert manifest_frames(manifest)["S005_001"] == [(1, "neutral")] + [
        (n, "disgust") for n in range(5, 11)]
    for row in rows:
        image = Image.open(folder / row["path"])
        assert image.size == (16, 16) and image.mode == "L"
    listed = {row["path"] for row in rows}
    on_disk = {p.relative_to(folder).as_posix() for p in (folder / "images").rglob("*.png")}
    assert listed == on_disk

    info = json.loads((folder / "dataset.json").read_text())
    assert info["format"] == "onset-dataset/1" and info["id"] == result.id
    assert info["labels"] == ["neutral", "contempt", "disgust", "fear", "happy", "surprise"]
    assert info["image"] == {"face": "none", "size": 16, "color": "gray", "framing": None}
    assert info["selection"]["policy"] == "onset" and info["selection"]["percent"] == 30
    assert info["counts"]["images"] == len(rows)
    assert info["counts"]["classes"]["disgust"] == 6
    assert sum(f["images"] for f in info["counts"]["folds"].values()) == len(rows)
    assert set(info["counts"]["splits"]) == {"train", "val", "test"}
    assert info["counts"]["left_out"]["disagreement"] == 1
    assert info["created"]


def test_no_subject_in_two_folds_or_splits(session, settings, tmp_path):
    build_dataset(session, tmp_path / "ck")
    result = export(session, settings, {**NONE_16, "folds": 3, "split": "50/25/25"})
    rows = list(csv.DictReader(open(result.path / "manifest.csv")))
    for column in ("fold", "split"):
        seen: dict[str, set] = {}
        for row in rows:
            seen.setdefault(row["subject"], set()).add(row[column])
        assert all(len(values) == 1 for values in seen.values()), (column, seen)


def test_training_reads_the_folder_and_the_zip(session, settings, tmp_path):
    from training.contract import read_dataset_image
    from training.data import load_export

    build_dataset(session, tmp_path / "ck")
    result = export(session, settings, NONE_16)
    zip_path = tmp_path / "export.zip"
    zip_path.write_bytes(b"".join(stream_zip(result.path)))
    for source in (result.path, zip_path):
        loaded = load_export(source)
        assert loaded.dataset_id == result.id and loaded.labels[0] == "neutral"
        assert len(loaded) == result.counts["images"]
    assert read_dataset_image(loaded.info).size == 16


def test_same_curation_same_id_and_manifest(session, settings, tmp_path):
    build_dataset(session, tmp_path / "ck")
    first = export(session, settings, NONE_16, out=tmp_path / "a")
    second = export(session, settings, {**NONE_16, "merge": []}, out=tmp_path / "b")
    assert first.id == second.id
    assert (first.path / "manifest.csv").read_bytes() == (second.path / "manifest.csv"
                                                         ).read_bytes()
    other_seed = export(session, settings, {**NONE_16, "seed": 1}, out=tmp_path / "c")
    other_size = export(session, settings, {**NONE_16, "size": 24}, out=tmp_path / "d")
    assert len({first.id, other_seed.id, other_size.id}) == 3
    assert snapshot_count(session) == 3  # a and b are the same snapshot, now pointing at b
    assert snapshot_folder(session, first.id) == tmp_path / "b"


def test_size_zero_copies_the_original_frames_byte_for_byte(session, settings, tmp_path):
    from tests.services.export_helpers import SPECS

    root = tmp_path / "ck"
    build_dataset(session, root)
    options = {"face": "none", "size": 0, "policy": "peak", "peak_frames": 1, "folds": 2}
    result = export(session, settings, {**options, "color": "gray"})
    gray = next(s for s in SPECS if s.subject == "S005" and s.code == "001")
    rgb = next(s for s in SPECS if s.mode == "RGB")
    assert (result.path / "images/disgust/S005_001_00000010.png").read_bytes() == frame_path(
        root, gray, 10).read_bytes()
    # The colour subject stays colour: the frames are the recorded files, not re-encoded.
    assert (result.path / "images/fear/S022_001_00000005.png").read_bytes() == frame_path(
        root, rgb, 5).read_bytes()
    info = json.loads((result.path / "dataset.json").read_text())
    assert (info["image"]["size"], info["image"]["color"]) == (0, "original")
    # The colour option does not apply, so it does not change the dataset either.
    assert export(session, settings, {**options, "color": "rgb"}).id == result.id


def test_none_face_resizes_the_whole_frame_into_the_chosen_colour(session, settings,
                                                                   tmp_path):
    build_dataset(session, tmp_path / "ck")
    result = export(session, settings, {"face": "none", "size": 20, "color": "rgb",
                                        "policy": "peak", "peak_frames": 1, "folds": 2})
    gray_frame = Image.open(result.path / "images/disgust/S005_001_00000010.png")
    colour_frame = Image.open(result.path / "images/fear/S022_001_00000005.png")
    assert (gray_frame.mode, gray_frame.size) == ("RGB", (20, 20))
    assert (colour_frame.mode, colour_frame.size) == ("RGB", (20, 20))
    # write_ckplus paints the colour frames (shade, 90, 200 - shade): not a gray image.
    red, green, blue = colour_frame.getpixel((10, 10))
    assert green == pytest.approx(90, abs=2) and red != blue


def test_zip_holds_exactly_the_folder(session, settings, tmp_path):
    build_dataset(session, tmp_path / "ck")
    result = export(session, settings, {**NONE_16, "color": "rgb"})
    chunks = list(stream_zip(result.path))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    files = {p.relative_to(result.path).as_posix(): p.read_bytes()
             for p in result.path.rglob("*") if p.is_file()}
    assert {i.filename: archive.read(i) for i in archive.infolist()} == files
    for info in archive.infolist():
        expected = zipfile.ZIP_STORED if info.filename.endswith(".png") else zipfile.ZIP_DEFLATED
        assert info.compress_type == expected
        assert not info.flag_bits & 0x08  # sizes in the local header: any unzip reads it
    assert archive.namelist()[:2] == ["dataset.json", "manifest.csv"]
    # Streamed entry by entry (then the directory): memory holds one image, not the archive.
    assert len(chunks) == len(files) + 1
    assert max(len(c) for c in chunks[:-1]) <= max(len(b) for b in files.values()) + 200


def test_a_crash_while_writing_images_leaves_nothing(session, settings, tmp_path, monkeypatch):
    build_dataset(session, tmp_path / "ck")
    calls = {"n": 0}
    real_render = writer_module.render_image

    def render_then_crash(job, target):
        # Simulates the process dying mid-export (disk full, a bug in an image library).
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("simulated crash while writing an image")
        real_render(job, target)

    monkeypatch.setattr(writer_module, "render_image", render_then_crash)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="simulated crash"):
        run_export(session, settings, params=parse_params(NONE_16), out=out)
    session.rollback()
    assert not out.exists()
    assert list(tmp_path.glob(".out*")) == []  # no temporary folder left either
    assert snapshot_count(session) == 0


def test_a_missing_frame_file_fails_cleanly(session, settings, tmp_path):
    from tests.services.export_helpers import SPECS

    root = tmp_path / "ck"
    build_dataset(session, root)
    frame_path(root, SPECS[1], 10).unlink()
    with pytest.raises(ExportError, match="S005_002_00000010.png"):
        run_export(session, settings, params=parse_params({"face": "none", "size": 0,
                                                           "folds": 2}))
    session.rollback()
    assert not any(settings.exports_dir.iterdir())
    assert snapshot_count(session) == 0


def test_a_failed_re_export_keeps_the_previous_export(session, settings, tmp_path,
                                                       monkeypatch):
    build_dataset(session, tmp_path / "ck")
    out = tmp_path / "out"
    first = export(session, settings, NONE_16, out=out)
    before = (out / "manifest.csv").read_bytes()

    def crash(job, target):  # simulated crash, as above
        raise OSError("simulated crash")

    monkeypatch.setattr(writer_module, "render_image", crash)
    with pytest.raises(OSError):
        run_export(session, settings, params=parse_params({**NONE_16, "seed": 3}), out=out)
    session.rollback()
    assert (out / "manifest.csv").read_bytes() == before
    assert json.loads((out / "dataset.json").read_text())["id"] == first.id


def test_refuses_to_overwrite_a_folder_that_is_not_an_export(session, settings, tmp_path):
    build_dataset(session, tmp_path / "ck")
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("do not delete")
    with pytest.raises(ExportError, match="not an Onset export"):
        run_export(session, settings, params=parse_params(NONE_16), out=precious)
    assert (precious / "chapter1.tex").read_text() == "do not delete"


def test_snapshot_whose_folder_was_replaced_is_reported_gone(session, settings, tmp_path):
    from app.services.export import SnapshotGone

    build_dataset(session, tmp_path / "ck")
    out = tmp_path / "out"
    first = export(session, settings, NONE_16, out=out)
    export(session, settings, {**NONE_16, "seed": 9}, out=out)  # another export, same place
    with pytest.raises(SnapshotGone, match="holds a different export"):
        snapshot_folder(session, first.id)
