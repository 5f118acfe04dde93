"""Suggested onsets against the demo's answer key, next to the reference: the export's 50%
trim rule (onset = floor(N x 50 / 100) + 1) on the same sequences.

    .venv/bin/python bench/onsets.py [--subjects 123] [--seed 0] [--methods landmarks,crops]
    .venv/bin/python bench/onsets.py --pick            # choose the thresholds on another seed
    .venv/bin/python bench/onsets.py --methods landmarks --jitter 1.5   # noisy points
    .venv/bin/python bench/onsets.py --real ../shared/data/ckplus-dev/ckplus \
        --png /tmp/team/onset_curves.png               # curves of a few real sequences

Prints the mean absolute frame error of each signal's suggestion (and its median and the
share within one frame), the trim rule's error, and their ratio. `--pick` sweeps the
threshold on a demo of a different seed (so the figure reported is not tuned on its own
answer key). Everything is generated under bench/out/ (the demo once per size and seed).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_OUT, fresh_settings  # noqa: E402


def demo_database(subjects: int, seed: int):
    """(settings, demo folder): the demo generated once, imported into a fresh database."""
    from app.db import make_engine, make_session_factory, session_scope
    from app.services.demo import generate_demo
    from app.services.importer import import_ckplus

    base = BENCH_OUT / f"onsets-{subjects}-{seed}"
    demo = BENCH_OUT / "assist-123" / "demo" if (subjects, seed) == (123, 0) else base / "demo"
    if not (demo / "demo_truth.csv").is_file():
        print(f"generating a {subjects}-subject demo (seed {seed}) in {demo} ...", flush=True)
        generate_demo(demo, subjects=subjects, seed=seed)
    data = base / "data"
    if (data / "onset.db").is_file():
        from app.config import Settings

        settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'onset.db'}")
    else:
        settings = fresh_settings(data)
        engine = make_engine(settings.resolved_database_url)
        with session_scope(make_session_factory(engine)) as session:
            import_ckplus(session, root=demo)
        engine.dispose()
    return settings, demo


def truth_onsets(demo: Path) -> dict[tuple[str, str], tuple[int, int]]:
    with open(demo / "demo_truth.csv", newline="") as fh:
        return {(r["subject"], r["sequence"]): (int(r["true_onset"]), int(r["frames"]))
                for r in csv.DictReader(fh)}


def suggestions(settings, method: str, threshold: float | None = None, *, cache: bool = True):
    from app.db import make_engine, make_session_factory, session_scope
    from app.services.assist.onsets import suggest

    engine = make_engine(settings.resolved_database_url)
    with session_scope(make_session_factory(engine)) as session:
        found = suggest(session, settings if cache else None, method=method,
                        threshold=threshold)
    engine.dispose()
    return found


def errors(found, truth, threshold: float | None = None) -> list[int]:
    from app.services.assist.onsets import onset_from_curve

    out = []
    for s in found:
        true, frames = truth[(s.subject, s.sequence)]
        onset = s.suggested_onset if threshold is None else (
            onset_from_curve(s.curve, threshold) if s.curve else None)
        out.append(abs((onset if onset is not None else trim_onset(frames)) - true))
    return out


def trim_onset(frames: int, percent: int = 50) -> int:
    return frames * percent // 100 + 1


def describe(name: str, errs: list[int]) -> str:
    mean = statistics.fmean(errs)
    within = sum(e <= 1 for e in errs) / len(errs)
    return (f"{name:<22} mean |error| {mean:5.2f} frames  median {statistics.median(errs):4.1f}"
            f"  within 1 frame {within:6.1%}")


def jitter_landmarks(pixels: float) -> None:
    """Add Gaussian noise (sigma in pixels) to every landmark read: the demo's points are
    exact, real CK+ points (AAM-tracked) are not."""
    import numpy as np

    import training.faces as faces

    rng = np.random.default_rng(0)
    exact = faces.read_landmarks
    faces.read_landmarks = lambda path: exact(path) + rng.normal(0, pixels, (68, 2))


def report(subjects: int, seed: int, methods: list[str], jitter: float = 0.0) -> None:
    settings, demo = demo_database(subjects, seed)
    truth = truth_onsets(demo)
    trim = [abs(trim_onset(frames) - true) for true, frames in truth.values()]
    print(f"demo: {subjects} subjects, seed {seed}, {len(truth)} sequences")
    print(describe("50% trim (reference)", trim))
    if jitter:
        jitter_landmarks(jitter)
        print(f"landmarks jittered by {jitter:g} px (sigma), uncached")
    for method in methods:
        start = time.perf_counter()
        found = suggestions(settings, method, cache=not (jitter and method == "landmarks"))
        seconds = time.perf_counter() - start
        errs = errors(found, truth)
        missing = sum(s.suggested_onset is None for s in found)
        mean = statistics.fmean(errs)
        ratio = f"{statistics.fmean(trim) / mean:4.1f}x closer than trim" if mean else \
            "exact on every sequence"
        print(describe(method, errs) + f"  {ratio}  ({missing} without a suggestion: trim "
              f"used; {seconds:.1f} s)")


def pick(subjects: int, seed: int, methods: list[str]) -> None:
    settings, demo = demo_database(subjects, seed)
    truth = truth_onsets(demo)
    print(f"threshold sweep on a {subjects}-subject demo, seed {seed}")
    for method in methods:
        found = suggestions(settings, method)
        row = [f"{t:.2f}:{statistics.fmean(errors(found, truth, t)):.2f}"
               for t in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)]
        print(f"  {method:<10} " + "  ".join(row))


def real_curves(root: Path, png: Path, count: int) -> None:
    """Import the real slice into a temporary database; draw `count` sequences' curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sqlalchemy import select

    from app.db import make_engine, make_session_factory, session_scope
    from app.models import EMOTIONS, Sequence, Subject
    from app.services.assist.onsets import suggest
    from app.services.importer import import_ckplus

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ONSET_DATABASE_URL"] = f"sqlite:///{tmp}/real.db"
        settings = fresh_settings(Path(tmp) / "data")
        engine = make_engine(settings.resolved_database_url)
        with session_scope(make_session_factory(engine)) as session:
            import_ckplus(session, root=root)
            labels = {(subj, code): label for subj, code, label in session.execute(
                select(Subject.code, Sequence.code, Sequence.original_label)
                .join(Subject, Subject.id == Sequence.subject_id))}
            found = {m: suggest(session, settings, method=m) for m in ("landmarks", "crops")}
        engine.dispose()
    # The slice may have no Landmarks/ folder: then the crop change is the curve shown.
    main = "landmarks" if any(s.curve for s in found["landmarks"]) else "crops"
    print(f"curves from {main} (the landmark curve needs CK+'s Landmarks/ folder)")
    picked = [s for s in found[main] if labels.get((s.subject, s.sequence)) is not None]
    picked = (picked or found[main])[:: max(1, len(picked) // count)][:count]
    crops = {s.sequence_id: s for s in found["crops"]} if main == "landmarks" else {}
    cols = 3
    rows = (len(picked) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax, s in zip(axes.flat, picked, strict=False):
        frames = range(1, s.frames + 1)
        ax.plot(frames, s.curve, "o-", ms=3, label=main if main == "landmarks" else "crop change")
        other = crops.get(s.sequence_id)
        if other and other.curve:
            ax.plot(frames, other.curve, "s--", ms=2, alpha=0.7, label="crop change")
        if s.suggested_onset:
            ax.axvline(s.suggested_onset, color="C3", ls=":", label=f"onset {s.suggested_onset}")
        ax.axvline(trim_onset(s.frames), color="0.6", ls="-.", lw=0.8, label="50% trim")
        label = labels.get((s.subject, s.sequence))
        ax.set_title(f"{s.subject}/{s.sequence} ({EMOTIONS[label] if label is not None else '-'})",
                     fontsize=9)
        ax.set_ylim(-0.1, 1.4)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper left")
    for ax in list(axes.flat)[len(picked):]:
        ax.axis("off")
    fig.suptitle("Expression intensity (0 = frame 1, 1 = apex) on the real CK+ slice", fontsize=10)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    print(f"wrote {png} ({len(picked)} sequences)")
    for s in picked:
        print(f"  {s.subject}/{s.sequence}: {s.frames} frames, suggested onset "
              f"{s.suggested_onset}, trim {trim_onset(s.frames)}, curve "
              + " ".join(f"{v:.2f}" for v in s.curve))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=123)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="landmarks,crops")
    parser.add_argument("--pick", action="store_true", help="sweep the threshold on --seed 1")
    parser.add_argument("--real", type=Path, help="a real CK+ folder: draw its curves")
    parser.add_argument("--png", type=Path, default=Path("/tmp/team/onset_curves.png"))
    parser.add_argument("--count", type=int, default=9)
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="noise (px) added to the demo's exact landmark points")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    if args.real:
        real_curves(args.real, args.png, args.count)
    elif args.pick:
        pick(args.subjects, args.seed if args.seed else 1, methods)
    else:
        report(args.subjects, args.seed, methods, args.jitter)


if __name__ == "__main__":
    main()
