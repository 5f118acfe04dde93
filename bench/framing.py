"""Which framing reproduces CK+48's crops from MTCNN on the full CK+ frames.

The slice in ../shared/data/ckplus-dev holds the same peak frames twice: full size in CK+'s
layout (ckplus/, the last 3 frames of 44 sequences) and as CK+48's 48x48 crops (ck48/, the
same file names). MTCNN (`training.faces.detect_faces`) locates each full frame once; a
grid search over `training.framing.Framing` then cuts 48x48 gray crops with the shipped
code (`crop_from_face`) and scores each by its normalised cross-correlation (Pearson r of
the pixels) with the CK+48 crop. Reference: the old framing, the MTCNN box plus a 0.2
margin on each side (`Framing.from_margin(0.2)`). Also shown: the box-only fallback, the
eyes alone (no mouth), no eye alignment, and each frame's own best square (upper bound).

    .venv/bin/python bench/framing.py [--data ../shared/data/ckplus-dev]
"""

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ckplus-dev"


def peak_pairs(data: Path) -> list[tuple[Path, Path]]:
    """(full frame, CK+48 crop) for the last 3 frames of every CK+ sequence in the slice."""
    crops = {p.name: p for p in (data / "ck48" / "images").glob("*/*.png")}
    pairs = []
    for sequence in sorted((data / "ckplus" / "cohn-kanade-images").glob("S*/*")):
        for frame in sorted(sequence.glob("*.png"))[-3:]:
            if frame.name in crops:
                pairs.append((frame, crops[frame.name]))
    return pairs


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))


def scores(framing, located, references) -> np.ndarray:
    from training.faces import CropParams, crop_from_face

    params = CropParams(size=48, color="gray", framing=framing)
    return np.array([ncc(crop_from_face(image, face, params), ref)
                     for (image, face), ref in zip(located, references, strict=True)])


def grid_search(base, located, references, sides, downs, **fixed):
    best = None
    for side in sides:
        for down in downs:
            framing = replace(base, side=round(float(side), 3), down=round(float(down), 3),
                              **fixed)
            mean = scores(framing, located, references).mean()
            if best is None or mean > best[0]:
                best = (mean, framing)
    return best[1]


def upper_bound(located, references) -> np.ndarray:
    """Each frame's own best square (side and vertical shift searched per frame)."""
    from training.framing import Framing

    best = []
    for pair, ref in zip(located, references, strict=True):
        best.append(max(scores(Framing(side=float(side), down=float(down), align=False),
                               [pair], [ref])[0]
                        for side in np.arange(2.2, 3.31, 0.05)
                        for down in np.arange(0.0, 0.21, 0.01)))
    return np.array(best)


def line(name: str, values: np.ndarray, reference: np.ndarray | None = None) -> str:
    text = (f"{name:<52} NCC {values.mean():.3f} ± {values.std():.3f} (median "
            f"{np.median(values):.3f}, worst {values.min():.3f})")
    if reference is not None:
        text += f"  {values.mean() / reference.mean():.2f}x the reference"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--upper-bound", action="store_true",
                        help="also search each frame's own best square (slow)")
    args = parser.parse_args()
    if not (args.data / "ck48").is_dir() or not (args.data / "ckplus").is_dir():
        sys.exit(f"error: the CK+ slice is not at {args.data} (needs ckplus/ and ck48/)")
    from training.faces import detect_faces, pick_face
    from training.framing import DEFAULT_FRAMING, Framing
    from training.images import load_image

    pairs = peak_pairs(args.data)
    started = time.perf_counter()
    images = [load_image(frame, mode="L") for frame, _ in pairs]
    found = detect_faces([frame for frame, _ in pairs])
    located, references, missed = [], [], []
    for (frame, crop), image, faces in zip(pairs, images, found, strict=True):
        face = pick_face(faces, image.shape)
        if face is None:
            missed.append(frame.name)
            continue
        located.append((image, face))
        references.append(load_image(crop, mode="L"))
    print(f"{len(pairs)} peak frames, MTCNN found {len(located)} faces "
          f"({time.perf_counter() - started:.0f} s); missed: {missed or 'none'}")

    reference = scores(Framing.from_margin(0.2), located, references)
    print(line("reference: old framing (MTCNN box + 0.2 margin)", reference))
    shipped = scores(DEFAULT_FRAMING, located, references)
    print(line(f"shipped default {DEFAULT_FRAMING.to_dict()}", shipped, reference))
    colour = np.array([image.shape[1] == 720 for image, _ in located])  # S502-S506: 720x480
    print(line(f"  of which the {int((~colour).sum())} frames of 640x490", shipped[~colour]))
    print(line(f"  and the {int(colour.sum())} colour frames of 720x480", shipped[colour]))

    started = time.perf_counter()
    best = grid_search(DEFAULT_FRAMING, located, references,
                       np.arange(2.45, 3.06, 0.05), np.arange(0.06, 0.165, 0.01))
    print(f"grid search ({time.perf_counter() - started:.0f} s):")
    print(line(f"  best eyes+mouth: side {best.side} u, down {best.down}",
               scores(best, located, references), reference))
    no_mouth = [(image, replace(face, mouth=None)) for image, face in located]
    eyes = grid_search(DEFAULT_FRAMING, no_mouth, references,
                       np.arange(2.5, 3.01, 0.05), np.arange(0.06, 0.165, 0.01))
    print(line(f"  eyes only (no mouth): side {eyes.side} IOD, down {eyes.down}",
               scores(eyes, no_mouth, references), reference))
    box = grid_search(Framing(method="box"), located, references,
                      np.arange(0.86, 1.07, 0.02), np.arange(-0.06, 0.07, 0.02))
    print(line(f"  box only: side {box.side} box sides, down {box.down}",
               scores(box, located, references), reference))
    print(line("  best eyes+mouth without eye alignment",
               scores(replace(best, align=False), located, references), reference))
    if args.upper_bound:
        print(line("  upper bound: each frame's own best square",
                   upper_bound(located, references), reference))


if __name__ == "__main__":
    main()
