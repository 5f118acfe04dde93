"""Reading exports (folder and zip), the errors a bad export gets, folds and tf.data."""

import csv
import shutil
import zipfile

import numpy as np
import pytest

from training.data import (
    DatasetError,
    class_weights,
    load_export,
    make_dataset,
    merge_folds,
    split_validation,
)


def _copy(tiny_export, tmp_path):
    return shutil.copytree(tiny_export, tmp_path / "export")


def _rewrite_manifest(root, change):
    with open(root / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows, columns = change(rows)
    with open(root / "manifest.csv", "w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=columns)
        out.writeheader()
        out.writerows(rows)


def _zip(root, target, prefix=""):
    with zipfile.ZipFile(target, "w") as zf:
        for path in root.rglob("*"):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(root).as_posix())
    return target


def test_folder_export_is_read_in_manifest_order(tiny_export):
    export = load_export(tiny_export)
    assert len(export) == 96
    assert export.labels == ["happy", "sadness", "surprise"]
    assert sorted(set(export.folds.tolist())) == [1, 2, 3, 4]
    first = export.paths[0]
    assert first.startswith("images/happy/") and export.label_index[0] == 0
    assert export.read_bytes(0).startswith(b"\x89PNG")


@pytest.mark.parametrize("prefix", ["", "tiny-export/"])
def test_zip_export_matches_the_folder(tiny_export, tmp_path, prefix):
    folder = load_export(tiny_export)
    zipped = load_export(_zip(tiny_export, tmp_path / "export.zip", prefix))
    assert zipped.paths == folder.paths
    assert zipped.subjects.tolist() == folder.subjects.tolist()
    assert zipped.read_bytes(5) == folder.read_bytes(5)


def test_missing_column_is_named(tiny_export, tmp_path):
    root = _copy(tiny_export, tmp_path)
    _rewrite_manifest(root, lambda rows: ([{k: v for k, v in r.items() if k != "subject"}
                                           for r in rows],
                                          ["path", "label", "sequence", "frame", "fold"]))
    with pytest.raises(DatasetError, match="manifest.csv: missing column.*subject"):
        load_export(root)


def test_missing_image_is_named(tiny_export, tmp_path):
    root = _copy(tiny_export, tmp_path)
    victim = load_export(root).paths[7]
    (root / victim).unlink()
    with pytest.raises(DatasetError, match=f"missing image.*{victim}"):
        load_export(root)


def test_unknown_label_is_named_with_its_line(tiny_export, tmp_path):
    root = _copy(tiny_export, tmp_path)

    def relabel(rows):
        rows[3]["label"] = "joy"
        return rows, list(rows[0])

    _rewrite_manifest(root, relabel)
    with pytest.raises(DatasetError, match=r"unknown label.*'joy' \(line 5\).*happy"):
        load_export(root)


def test_subject_in_two_folds_is_refused(tiny_export, tmp_path):
    root = _copy(tiny_export, tmp_path)

    def leak(rows):
        subject = rows[0]["subject"]
        other = next(r["fold"] for r in rows if r["fold"] != rows[0]["fold"])
        next(r for r in rows[1:] if r["subject"] == subject)["fold"] = other
        return rows, list(rows[0])

    _rewrite_manifest(root, leak)
    with pytest.raises(DatasetError, match="subject S010 in folds"):
        load_export(root)


def test_bad_exports_in_a_zip_fail_the_same_way(tiny_export, tmp_path):
    root = _copy(tiny_export, tmp_path)
    (root / load_export(root).paths[0]).unlink()
    with pytest.raises(DatasetError, match="missing image"):
        load_export(_zip(root, tmp_path / "broken.zip"))


@pytest.mark.parametrize("setup, message", [
    (lambda root: (root / "dataset.json").unlink(), "dataset.json is missing"),
    (lambda root: (root / "manifest.csv").unlink(), "manifest.csv is missing"),
    (lambda root: (root / "dataset.json").write_text('{"labels": "happy"}'),
     "'labels' must be a non-empty list"),
    (lambda root: (root / "dataset.json").write_text("{oops"), "not valid JSON"),
])
def test_broken_metadata_is_named(tiny_export, tmp_path, setup, message):
    root = _copy(tiny_export, tmp_path)
    setup(root)
    with pytest.raises(DatasetError, match=message):
        load_export(root)


def test_non_integer_fold_names_line_and_column(tiny_export, tmp_path):
    root = _copy(tiny_export, tmp_path)

    def bad(rows):
        rows[0]["fold"] = "one"
        return rows, list(rows[0])

    _rewrite_manifest(root, bad)
    with pytest.raises(DatasetError, match="line 2: 'fold' must be an integer"):
        load_export(root)


def test_not_an_export_at_all(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="neither an export folder nor a .zip"):
        load_export(tmp_path / "notes.txt")
    with pytest.raises(DatasetError, match="dataset not found"):
        load_export(tmp_path / "nope")


def test_merge_folds_is_deterministic_balanced_and_subject_safe():
    folds = np.array([1] * 5 + [2] * 3 + [3] * 4 + [4] * 4 + [5] * 2)
    merged = merge_folds(folds, 2)
    assert merged.tolist() == merge_folds(folds, 2).tolist()
    counts = np.bincount(merged)
    assert counts.sum() == 18 and counts.max() - counts.min() <= 2  # 18 images, best split 9/9
    for fold in range(1, 6):  # a manifest fold never splits
        assert len(set(merged[folds == fold].tolist())) == 1
    assert merge_folds(folds, None).max() == 4
    with pytest.raises(DatasetError, match="more folds than the manifest has"):
        merge_folds(folds, 6)
    with pytest.raises(DatasetError, match="at least 2"):
        merge_folds(folds, 1)


def test_validation_split_holds_out_whole_subjects():
    subjects = np.array([f"S{i // 4}" for i in range(40)])
    train, val = split_validation(subjects, np.arange(40), 0.2, seed=3)
    assert set(subjects[train]).isdisjoint(subjects[val])
    assert len(set(subjects[val])) == 2 and len(train) + len(val) == 40
    again = split_validation(subjects, np.arange(40), 0.2, seed=3)
    assert again[1].tolist() == val.tolist()


def test_balanced_class_weights():
    weights = class_weights(np.array([0, 0, 0, 1]), 3)
    assert weights[0] == pytest.approx(4 / 6) and weights[1] == pytest.approx(2.0)
    assert weights[2] == 1.0  # never seen in training: harmless neutral weight


def test_old_image_blocks_are_read_in_one_place():
    from training.contract import read_dataset_image

    def face_crop_params(info):
        return read_dataset_image(info).to_dict()

    old_block = {"face": "landmarks", "size": [64, 64], "color": "grayscale", "margin": 0.25}
    read = face_crop_params({"image": old_block})
    assert {k: read[k] for k in ("face", "size", "color", "raw")} == {
        "face": "landmarks", "size": 64, "color": "gray", "raw": old_block}
    assert read["framing"]["method"] == "box" and read["framing"]["side"] == 1.5
    assert face_crop_params({"image": {"source": "mtcnn", "size": "96x96", "mode": "RGB"}})[
        "color"] == "rgb"
    assert face_crop_params({})["face"] is None
    assert face_crop_params({"image": "weird"})["size"] is None


@pytest.mark.slow
def test_pipeline_yields_resized_batches_with_one_hot_labels(tiny_export, tiny_config):
    export = load_export(tiny_export)
    config = tiny_config.replace(input_size=24)
    ds = make_dataset(export, np.arange(20), config, training=True, seed=1, batch_size=8)
    x, y = next(iter(ds))
    assert x.shape == (8, 24, 24, 1) and y.shape == (8, 3)
    assert 0 <= float(np.min(x)) and float(np.max(x)) <= 255
    assert np.allclose(np.asarray(y).sum(axis=1), 1)
    assert sum(int(b[0].shape[0]) for b in ds) == 20
