"""A tiny hand-made export: synthetic 32x32 'faces' of a few subjects, classes told apart by
the mouth (smile, frown, open O), so a few epochs of real training visibly learn something."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

LABELS = ["happy", "sadness", "surprise"]
SIZE = 32


def draw_face(label: str, rng: np.random.Generator, tone: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    dx, dy = rng.uniform(-1.5, 1.5, size=2)
    cx, cy = SIZE / 2 + dx, SIZE / 2 + dy
    img = np.full((SIZE, SIZE), 40.0)
    img[((xx - cx) / 12) ** 2 + ((yy - cy) / 14) ** 2 <= 1] = tone  # the face oval
    for ex in (cx - 5, cx + 5):  # eyes
        img[(xx - ex) ** 2 + (yy - (cy - 4)) ** 2 <= 2.5] = 20
    mx = xx - cx
    # Image rows grow downwards: a smile's corners sit higher (smaller y) than its middle.
    if label == "happy":  # smile
        mouth = np.abs(yy - (cy + 8 - 0.1 * mx**2)) <= 1.2
    elif label == "sadness":  # frown
        mouth = np.abs(yy - (cy + 5 + 0.1 * mx**2)) <= 1.2
    else:  # surprise: an open ring
        r = np.sqrt(mx**2 + (yy - (cy + 6)) ** 2)
        mouth = (r >= 2.0) & (r <= 4.0)
    img[mouth & (np.abs(mx) <= 6)] = 15
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_export(root: Path, *, subjects: int = 8, folds: int = 4, sequences: int = 2,
                 frames: int = 2, seed: int = 0) -> Path:
    """An export folder honouring DESIGN.md's contract; returns its path."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(subjects):
        subject = f"S{s + 10:03d}"
        tone = rng.uniform(150, 220)
        for q, label in enumerate(LABELS * sequences, start=1):
            sequence = f"{q:03d}"
            for frame in range(10, 10 + frames):
                rel = f"images/{label}/{subject}_{sequence}_{frame:08d}.png"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(draw_face(label, rng, tone), mode="L").save(root / rel)
                rows.append({"path": rel, "label": label, "subject": subject,
                             "sequence": sequence, "frame": frame, "fold": s % folds + 1})
    with open(root / "manifest.csv", "w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    (root / "dataset.json").write_text(json.dumps({
        "format": "onset-dataset/1", "id": f"tiny-{seed}", "labels": LABELS,
        "policy": {"name": "peak", "k": frames},
        "image": {"face": "landmarks", "size": SIZE, "color": "grayscale"},
        "created": "2024-01-01T00:00:00Z",
    }))
    return root




def tiny_config():
    """The scratch preset shrunk to tiny-data size: same code path, a fraction of the FLOPs.

    Flatten instead of global pooling: with ~50 images and a few dozen steps, keeping where
    the mouth is lets the net learn within a few epochs."""
    from training.config import ConvBlock, DenseLayer, Optimizer, Training, preset

    config = preset("scratch")
    return config.replace(
        name="tiny",
        input_size=32,
        conv_blocks=[ConvBlock(filters=8), ConvBlock(filters=16)],
        global_pooling="flatten",
        dense_layers=[DenseLayer(units=16, activation="elu")],
        optimizer=Optimizer(learning_rate=3e-3, warmup_epochs=1),
        training=Training(batch_size=8, epochs=2, patience=3, validation_fraction=0.25),
    )
