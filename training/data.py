"""Read an Onset export (folder or .zip) and turn it into per-fold `tf.data` pipelines.

The export contract (docs/design.md; names and columns: `training.contract`): `manifest.csv`
(path,label,subject,sequence,frame,fold), `dataset.json` (format, id, labels = model output
order, ...), `images/<label>/*.png`.
Everything is checked up front so a wrong export fails with one message naming the problem,
never halfway through training.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from training import contract
from training.contract import DATASET_FILE, MANIFEST_COLUMNS, MANIFEST_FILE

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"GIF8")


class DatasetError(ValueError):
    """The export is wrong or incomplete; the message names the file, column or row."""


@dataclass
class Export:
    """A validated export: per-image columns as parallel arrays, plus dataset.json."""

    source: str  # the folder or zip given by the user
    info: dict
    labels: list[str]
    paths: list[str]
    label_index: np.ndarray  # int, index into `labels`
    subjects: np.ndarray  # str
    sequences: np.ndarray  # str
    frames: np.ndarray  # int
    folds: np.ndarray  # int, as in the manifest
    _root: Path | None = None  # set for folders
    _zip_bytes: dict = field(default_factory=dict, repr=False)  # set for zips: path -> bytes

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def dataset_id(self) -> str:
        return str(self.info.get("id", ""))

    def read_bytes(self, i: int) -> bytes:
        if self._root is not None:
            return (self._root / self.paths[i]).read_bytes()
        return self._zip_bytes[self.paths[i]]

    def image_tensors(self, indices):
        """A tf.data.Dataset of raw encoded images for the given rows (files read lazily)."""
        import tensorflow as tf

        if self._root is not None:
            files = [str(self._root / self.paths[i]) for i in indices]
            return tf.data.Dataset.from_tensor_slices(files).map(tf.io.read_file)
        return tf.data.Dataset.from_tensor_slices([self._zip_bytes[self.paths[i]]
                                                   for i in indices])


def load_export(source: str | Path) -> Export:
    """Open and validate an export folder or .zip; raises DatasetError naming any problem."""
    source = Path(source)
    if not source.exists():
        raise DatasetError(f"dataset not found: {source}")
    if source.is_dir():
        return _load(source, _FolderReader(source))
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            return _load(source, _ZipReader(zf, source))
    raise DatasetError(f"{source}: neither an export folder nor a .zip file")


class _FolderReader:
    def __init__(self, root: Path):
        self.root = root

    def text(self, name: str) -> str | None:
        path = self.root / name
        return path.read_text(encoding="utf-8-sig") if path.is_file() else None

    def has(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def head(self, rel: str) -> bytes:
        with open(self.root / rel, "rb") as fh:
            return fh.read(8)


class _ZipReader:
    def __init__(self, zf: zipfile.ZipFile, source: Path):
        self.zf = zf
        names = [n for n in zf.namelist() if not n.endswith("/")]
        manifests = sorted((n for n in names if PurePosixPath(n).name == MANIFEST_FILE),
                           key=lambda n: n.count("/"))
        # Zips made by "compress this folder" nest everything under one top-level folder.
        self.prefix = manifests[0][: -len(MANIFEST_FILE)] if manifests else ""
        self.names = set(names)
        self.source = source

    def text(self, name: str) -> str | None:
        full = self.prefix + name
        return self.zf.read(full).decode("utf-8-sig") if full in self.names else None

    def has(self, rel: str) -> bool:
        return self.prefix + rel in self.names

    def head(self, rel: str) -> bytes:
        return self.zf.read(self.prefix + rel)[:8]


def _load(source: Path, reader) -> Export:
    manifest_text = reader.text(MANIFEST_FILE)
    if manifest_text is None:
        raise DatasetError(f"{source}: {MANIFEST_FILE} is missing")
    info_text = reader.text(DATASET_FILE)
    if info_text is None:
        raise DatasetError(f"{source}: {DATASET_FILE} is missing")
    info = _parse_info(info_text)
    labels = info["labels"]
    rows = _parse_manifest(manifest_text, labels)
    _check_subject_folds(rows)
    _check_images(rows, reader)
    export = Export(
        source=str(source), info=info, labels=labels,
        paths=[r["path"] for r in rows],
        label_index=np.array([labels.index(r["label"]) for r in rows], dtype=np.int64),
        subjects=np.array([r["subject"] for r in rows]),
        sequences=np.array([r["sequence"] for r in rows]),
        frames=np.array([r["frame"] for r in rows], dtype=np.int64),
        folds=np.array([r["fold"] for r in rows], dtype=np.int64),
    )
    if isinstance(reader, _FolderReader):
        export._root = reader.root
    else:
        # Zip members are read once into memory: a CK+ export of face crops is a few MB.
        export._zip_bytes = {p: reader.zf.read(reader.prefix + p) for p in export.paths}
    return export


def _parse_info(text: str) -> dict:
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"dataset.json is not valid JSON ({exc})") from None
    if not isinstance(info, dict):
        raise DatasetError("dataset.json: expected a JSON object")
    fmt = info.get("format")
    if fmt is not None and not contract.is_dataset_format(fmt):
        raise DatasetError(f"dataset.json: format {fmt!r} is not an onset-dataset export")
    labels = info.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise DatasetError("dataset.json: 'labels' must be a non-empty list of class names")
    if len(set(labels)) != len(labels):
        raise DatasetError(f"dataset.json: 'labels' has duplicates: {labels}")
    if len(labels) < 2:
        raise DatasetError(f"dataset.json: 'labels' needs at least 2 classes, got {labels}")
    try:  # a malformed image.framing fails here, not after training
        contract.read_dataset_image(info)
    except contract.ImageSpecError as exc:
        raise DatasetError(f"dataset.json: {exc}") from None
    return info


def _parse_manifest(text: str, labels: list[str]) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in MANIFEST_COLUMNS if c not in columns]
    if missing:
        raise DatasetError(f"manifest.csv: missing column(s) {', '.join(missing)} "
                           f"(has: {', '.join(columns) or 'nothing'})")
    reader.fieldnames = columns
    rows, unknown = [], {}
    for line, raw in enumerate(reader, start=2):  # line 1 is the header
        row = {k: (raw.get(k) or "").strip() for k in MANIFEST_COLUMNS}
        for key in ("path", "label", "subject"):
            if not row[key]:
                raise DatasetError(f"manifest.csv line {line}: empty '{key}'")
        for key in ("frame", "fold"):
            try:
                row[key] = int(row[key])
            except ValueError:
                raise DatasetError(f"manifest.csv line {line}: '{key}' must be an integer, "
                                   f"got {row[key]!r}") from None
        rel = PurePosixPath(row["path"].replace("\\", "/"))
        if rel.is_absolute() or ".." in rel.parts:
            raise DatasetError(f"manifest.csv line {line}: path {row['path']!r} must stay "
                               "inside the export folder")
        row["path"] = str(rel)
        if row["label"] not in labels:
            unknown.setdefault(row["label"], line)
        rows.append(row)
    if unknown:
        found = ", ".join(f"{lab!r} (line {ln})" for lab, ln in unknown.items())
        raise DatasetError(f"manifest.csv: unknown label(s) {found}; dataset.json labels are "
                           f"{labels}")
    if not rows:
        raise DatasetError("manifest.csv: no images listed")
    return rows


def _check_subject_folds(rows: list[dict]) -> None:
    folds_of: dict[str, set] = {}
    for r in rows:
        folds_of.setdefault(r["subject"], set()).add(r["fold"])
    leaking = {s: sorted(f) for s, f in folds_of.items() if len(f) > 1}
    if leaking:
        shown = "; ".join(f"subject {s} in folds {f}" for s, f in sorted(leaking.items())[:5])
        raise DatasetError(f"manifest.csv: {len(leaking)} subject(s) appear in more than one "
                           f"fold ({shown}); folds must be grouped by subject")


def _check_images(rows: list[dict], reader) -> None:
    missing = [r["path"] for r in rows if not reader.has(r["path"])]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise DatasetError(f"missing image(s) listed in manifest.csv: "
                           f"{', '.join(missing[:3])}{more}")
    for r in rows:
        if not reader.head(r["path"]).startswith(_IMAGE_MAGIC):
            raise DatasetError(f"{r['path']}: not a PNG/JPEG/BMP/GIF image")


# --- folds ----------------------------------------------------------------------------------

def merge_folds(folds: np.ndarray, k: int | None) -> np.ndarray:
    """Map manifest folds onto 0..k-1, deterministically and balanced by image count.

    Folds go, largest first (ties: lower fold id), to the merged fold with the fewest images
    so far. Subjects never move between manifest folds, so merged folds stay subject-disjoint.
    """
    unique, counts = np.unique(np.asarray(folds, dtype=np.int64), return_counts=True)
    k = len(unique) if k is None else k
    if k < 2:
        raise DatasetError(f"--folds must be at least 2, got {k}")
    if k > len(unique):
        raise DatasetError(f"--folds {k} asks for more folds than the manifest has "
                           f"({len(unique)}: {unique.tolist()})")
    totals = [0] * k
    slot = {}
    by_size = sorted(zip(unique.tolist(), counts.tolist(), strict=True),
                     key=lambda t: (-t[1], t[0]))
    for fold, count in by_size:
        target = min(range(k), key=lambda b: (totals[b], b))
        slot[fold] = target
        totals[target] += count
    return np.array([slot[int(f)] for f in folds], dtype=np.int64)


def split_validation(subjects: np.ndarray, train_idx: np.ndarray, fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold out whole subjects of the training rows for early stopping: (train, val) indices."""
    people = sorted(set(subjects[train_idx]))
    if len(people) < 2:
        raise DatasetError(f"need at least 2 subjects in the training folds to hold some out "
                           f"for validation, got {len(people)}")
    rng = np.random.default_rng(seed)
    n_val = min(max(1, math.ceil(fraction * len(people))), len(people) - 1)
    held = set(rng.permutation(people)[:n_val])
    is_val = np.array([subjects[i] in held for i in train_idx])
    return train_idx[~is_val], train_idx[is_val]


def class_weights(label_index: np.ndarray, num_classes: int) -> dict[int, float]:
    """'Balanced' weights n / (classes_present * count); absent classes get 1.0 (never seen)."""
    counts = np.bincount(label_index, minlength=num_classes)
    present = int((counts > 0).sum())
    return {c: (len(label_index) / (present * counts[c]) if counts[c] else 1.0)
            for c in range(num_classes)}


# --- tf.data --------------------------------------------------------------------------------

def make_augmenter(config, seed: int):
    """Keras preprocessing layers (ImageDataGenerator is gone in Keras 3); None if all off."""
    import keras
    from keras import layers

    aug = config.augmentation
    steps = []
    if aug.flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))
    if aug.rotation_deg:
        steps.append(layers.RandomRotation(aug.rotation_deg / 360, fill_mode="reflect",
                                           seed=seed + 1))
    if aug.zoom:
        steps.append(layers.RandomZoom(aug.zoom, fill_mode="reflect", seed=seed + 2))
    if aug.translation:
        steps.append(layers.RandomTranslation(aug.translation, aug.translation,
                                              fill_mode="reflect", seed=seed + 3))
    if aug.contrast:
        steps.append(layers.RandomContrast(aug.contrast, value_range=(0, 255), seed=seed + 4))
    if aug.brightness:
        steps.append(layers.RandomBrightness(aug.brightness, value_range=(0, 255),
                                             seed=seed + 5))
    return keras.Sequential(steps, name="augment") if steps else None


def make_dataset(export: Export, indices, config, *, training: bool, seed: int = 0,
                 batch_size: int | None = None):
    """decode -> resize -> cache -> (shuffle) -> batch -> (augment) -> prefetch.

    Yields (images float32 0-255 of shape (size, size, channels), one-hot labels).
    """
    import tensorflow as tf

    indices = np.asarray(indices, dtype=np.int64)
    size, channels = config.input_size, config.channels
    num_classes = len(export.labels)
    batch_size = batch_size or config.training.batch_size

    def decode(raw):
        image = tf.io.decode_image(raw, channels=channels, expand_animations=False)
        image = tf.image.resize(image, (size, size), antialias=True)
        return tf.ensure_shape(image, (size, size, channels))

    images = export.image_tensors(indices).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    onehot = tf.data.Dataset.from_tensor_slices(
        np.eye(num_classes, dtype=np.float32)[export.label_index[indices]])
    ds = tf.data.Dataset.zip((images, onehot)).cache()
    if training:
        ds = ds.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if training:
        augmenter = make_augmenter(config, seed)
        if augmenter is not None:
            # One call per batch keeps the random ops vectorised; a single stream keeps the
            # random sequence (and so the run) reproducible for a given seed.
            ds = ds.map(lambda x, y: (augmenter(x, training=True), y))
    return ds.prefetch(tf.data.AUTOTUNE)
