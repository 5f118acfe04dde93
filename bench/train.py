"""Training throughput of each member of the default preset through training.data's tf.data
pipeline, as a ratio against the named reference `numpy-fit`: model.fit on the same images
preloaded as one NumPy array (same model, same process, same run).

    .venv/bin/python bench/train.py [--images 960] [--epochs 3] [--rounds 2]

Self-contained: it writes its own synthetic export (PNG files, manifest.csv, dataset.json)
to a temporary folder. Epoch 1 of every fit is a warm-up (graph tracing; for the pipeline
also decoding into the cache) and is reported apart. Rounds interleave the variants, so a
neighbour's load on a shared machine hits them alike; the median round is reported.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import training  # noqa: E402,F401  (sets TensorFlow's environment before it loads)

LABELS = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]


def write_synthetic_export(root: Path, n_images: int, size: int = 48) -> Path:
    """Smooth random 'faces' (blurred noise, a per-class bright band) as gray PNGs."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_images):
        label = LABELS[i % len(LABELS)]
        base = rng.normal(128, 40, (size // 4, size // 4)).clip(0, 255).astype(np.uint8)
        img = np.asarray(Image.fromarray(base).resize((size, size), Image.BILINEAR)).copy()
        row = 6 + 5 * LABELS.index(label)
        img[row:row + 3] = 230
        rel = f"images/{label}/img{i:05d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / rel)
        rows.append({"path": rel, "label": label, "subject": f"S{i // 9:03d}",
                     "sequence": "001", "frame": i % 9 + 1, "fold": (i // 9) % 10 + 1})
    with open(root / "manifest.csv", "w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    (root / "dataset.json").write_text(json.dumps({
        "format": "onset-dataset/1", "id": "bench", "labels": LABELS,
        "image": {"face": "landmarks", "size": size, "color": "gray"}}))
    return root


def timed_fit(model, data, epochs: int, n_images: int, **fit_kwargs) -> tuple[float, float]:
    """(warm-up epoch seconds, images/s over the remaining epochs)."""
    import keras

    stamps = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            stamps.append(time.perf_counter())

    start = time.perf_counter()
    model.fit(*data, epochs=epochs + 1, verbose=0, callbacks=[Clock()], **fit_kwargs)
    return stamps[0] - start, n_images * epochs / (stamps[-1] - stamps[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=960)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per fit")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from training import data
    from training.config import preset
    from training.train import plan_members

    print(f"members of the default preset, {args.images} images, {args.epochs} timed epochs "
          f"x {args.rounds} rounds, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        export = data.load_export(write_synthetic_export(Path(tmp), args.images))
        for plan in plan_members(preset("default")):
            if plan.config.trains:  # the zero-shot member is used as shipped: no training
                bench_member(plan.name, plan.config, export, Path(tmp), args)


def bench_member(name: str, config, export, root: Path, args) -> None:
    import keras
    import tensorflow as tf

    from training import data
    from training.model import build_model

    plain = config.replace(augmentation=config.augmentation.__class__(
        flip=False, rotation_deg=0, zoom=0, translation=0, contrast=0, brightness=0))
    batch, size = config.training.batch_size, config.input_size
    idx = np.arange(len(export))
    # The reference: every image decoded (and resized to the member's input) up front into
    # one array, fed by model.fit.
    x = np.stack([np.asarray(Image.open(root / p), dtype=np.float32)[..., None]
                  for p in export.paths])
    x = tf.image.resize(x, (size, size), antialias=True).numpy()
    y = np.eye(len(LABELS), dtype=np.float32)[export.label_index]

    def model():
        keras.utils.set_random_seed(0)
        return build_model(config, len(LABELS))

    variants = {
        "numpy-fit (reference)": lambda: timed_fit(
            model(), (x, y), args.epochs, len(idx), batch_size=batch, shuffle=True),
        "tf.data, no augmentation": lambda: timed_fit(
            model(), (data.make_dataset(export, idx, plain, training=True),),
            args.epochs, len(idx), shuffle=False),  # the dataset shuffles itself
        "tf.data + default augmentation": lambda: timed_fit(
            model(), (data.make_dataset(export, idx, config, training=True),),
            args.epochs, len(idx), shuffle=False),
    }
    results = {variant: [] for variant in variants}
    for _ in range(args.rounds):
        for variant, run in variants.items():
            results[variant].append(run())

    ref = statistics.median(r[1] for r in results["numpy-fit (reference)"])
    print(f"\nmember {name!r}: {size}x{size} input, batch {batch}")
    print(f"{'variant':<34}{'images/s':>10}{'time ratio vs reference':>26}{'warm-up s':>11}")
    for variant, runs in results.items():
        rate = statistics.median(r[1] for r in runs)
        warm = statistics.median(r[0] for r in runs)
        print(f"{variant:<34}{rate:>10.0f}{ref / rate:>25.2f}x{warm:>11.1f}")


if __name__ == "__main__":
    main()
