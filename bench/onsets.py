"""Suggested onsets against the demo's answer key, next to the reference: the export's 50%
trim rule (onset = floor(N x 50 / 100) + 1) on the same sequences.

    .venv/bin/python bench/onsets.py [--subjects 123] [--seed 0] [--methods landmarks,crops]
    .venv/bin/python bench/onsets.py --pick            # choose the thresholds on another seed
    .venv/bin/python bench/onsets.py --methods landmarks --jitter 1.5   # noisy points
    .venv/bin/python bench/onsets.py --real ../shared/data/ckplus-dev/ckplus \
        --png /tmp/team/onset_curves.png               # curves of a few real sequences
    .venv/bin/python bench/onsets.py --run RUN_DIR     # and the model signal (a neutral class)

The model signal needs a run trained with neutral frames. Out of sample on the demo: train
on a demo of another seed (bench/out/onsets-20-1, made by `--pick`); on the real slice:
export it with neutral frames into bench/out/onsets-real/export (the database is
bench/out/onsets-real/data, made by `--real`), `--train-set DIR` joins that export without
the `--held-out` subjects to CK+48's other subjects, train on DIR, then `--real ... --run`
draws only subjects the run never saw. The exact commands: README, "Review assistance".

Prints the mean absolute frame error of each signal's suggestion (and its median and the
share within one frame), the trim rule's error, and their ratio. `--pick` sweeps the
threshold on a demo of a different seed (so the figure reported is not tuned on its own
answer key). Everything is generated under bench/out/ (the demo once per size and seed).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_OUT, fresh_settings  # noqa: E402


def demo_database(subjects: int, seed: int):
    """(settings, demo folder): the demo generated once, imported into a fresh database."""
    from app.db import make_engine, make_session_factory, session_scope
    from app.demo import generate_demo
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


def suggestions(settings, method: str, threshold: float | None = None, *, cache: bool = True,
                run: str | None = None):
    from app.db import make_engine, make_session_factory, session_scope
    from app.services.assist.onsets import suggest

    engine = make_engine(settings.resolved_database_url)
    with session_scope(make_session_factory(engine)) as session:
        found = suggest(session, settings if cache else None, method=method,
                        threshold=threshold, run=run)
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


def report(subjects: int, seed: int, methods: list[str], jitter: float = 0.0,
           run: str | None = None) -> None:
    settings, demo = demo_database(subjects, seed)
    truth = truth_onsets(demo)
    trim = [abs(trim_onset(frames) - true) for true, frames in truth.values()]
    print(f"demo: {subjects} subjects, seed {seed}, {len(truth)} sequences")
    if run:
        import json

        config = json.loads((Path(run) / "config.json").read_text())
        print(f"model signal: run {config['run']['id']}, trained on {config['run']['dataset']}")
    print(describe("50% trim (reference)", trim))
    if jitter:
        jitter_landmarks(jitter)
        print(f"landmarks jittered by {jitter:g} px (sigma), uncached")
    for method in methods:
        start = time.perf_counter()
        found = suggestions(settings, method, cache=not (jitter and method == "landmarks"),
                            run=run)
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


def real_database(root: Path):
    """Settings of the real slice imported once into bench/out/onsets-real/data (its MTCNN
    detections and crops are cached there, for the crops signal, the export and the model)."""
    from app.config import Settings
    from app.db import make_engine, make_session_factory, session_scope
    from app.services.importer import import_ckplus

    data = BENCH_OUT / "onsets-real" / "data"
    if (data / "onset.db").is_file():
        return Settings(data_dir=data, database_url=f"sqlite:///{data / 'onset.db'}")
    settings = fresh_settings(data)
    engine = make_engine(settings.resolved_database_url)
    with session_scope(make_session_factory(engine)) as session:
        import_ckplus(session, root=root.resolve())
    engine.dispose()
    return settings


def real_training_set(export: Path, ck48: Path, out: Path, held_out: set[str]) -> None:
    """A training folder for the real slice's model signal that never saw `held_out`: the
    slice's own export (with neutral frames) without those subjects, plus CK+48's subjects
    that are not in the slice (emotions only; CK+48 has no neutral frames)."""
    import json
    import shutil

    def rows(folder: Path) -> list[dict]:
        with open(folder / "manifest.csv", newline="") as fh:
            return list(csv.DictReader(fh))

    mine = rows(export)
    in_slice = {r["subject"] for r in mine}
    kept = [(export, r) for r in mine if r["subject"] not in held_out]
    kept += [(ck48, r) for r in rows(ck48) if r["subject"] not in in_slice]
    shutil.rmtree(out, ignore_errors=True)
    fields = ["path", "label", "subject", "sequence", "frame", "fold"]
    for folder, r in kept:
        (out / r["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / r["path"], out / r["path"])
    with open(out / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(r for _, r in kept)
    info = json.loads((export / "dataset.json").read_text())
    info.update(id=f"{info['id']}-without-{len(held_out)}-plus-ck48", counts={})
    (out / "dataset.json").write_text(json.dumps(info, indent=1))
    subjects = {r["subject"] for _, r in kept}
    print(f"wrote {out}: {len(kept)} images of {len(subjects)} subjects; held out "
          f"{', '.join(sorted(held_out))}")


def trained_subjects(run: str) -> set[str]:
    """Subjects in the manifest the run was trained on (config.json's run.dataset)."""
    import json

    config = json.loads((Path(run) / "config.json").read_text())
    with open(Path(config["run"]["dataset"]) / "manifest.csv", newline="") as fh:
        return {r["subject"] for r in csv.DictReader(fh)}


def real_curves(root: Path, png: Path, count: int, run: str | None) -> None:
    """Every signal's curve of `count` labelled real sequences (of subjects the run never saw,
    with --run), in one picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sqlalchemy import select

    from app.db import make_engine, make_session_factory, session_scope
    from app.models import EMOTIONS, Sequence, Subject
    from app.services.assist.onsets import suggest

    settings = real_database(root)
    methods = ("landmarks", "crops", "model") if run else ("landmarks", "crops")
    engine = make_engine(settings.resolved_database_url)
    with session_scope(make_session_factory(engine)) as session:
        labels = {(subj, code): label for subj, code, label in session.execute(
            select(Subject.code, Sequence.code, Sequence.original_label)
            .join(Subject, Subject.id == Sequence.subject_id))}
        found = {m: {s.sequence_id: s for s in suggest(session, settings, method=m, run=run)}
                 for m in methods}
    engine.dispose()
    seen = trained_subjects(run) if run else set()
    base = list(found["crops"].values())
    picked = [s for s in base if labels.get((s.subject, s.sequence)) is not None
              and s.subject not in seen]
    picked = picked[:: max(1, len(picked) // count)][:count]
    print("landmark curves: " + ("none (the slice has no Landmarks/ folder)" if not any(
        s.curve for s in found["landmarks"].values()) else "drawn"))
    cols = 2
    rows = (len(picked) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.0 * rows), squeeze=False)
    styles = {"landmarks": "o-", "crops": "s--", "model": "^-"}
    for ax, s in zip(axes.flat, picked, strict=False):
        frames = range(1, s.frames + 1)
        for m in methods:
            one = found[m][s.sequence_id]
            if one.curve:
                onset = f", onset {one.suggested_onset}" if one.suggested_onset else ""
                ax.plot(frames, one.curve, styles[m], ms=3, label=f"{m}{onset}")
                if one.suggested_onset:
                    ax.axvline(one.suggested_onset, color=ax.lines[-1].get_color(), ls=":")
        ax.axvline(trim_onset(s.frames), color="0.6", ls="-.", lw=0.8, label="50% trim")
        label = labels.get((s.subject, s.sequence))
        ax.set_title(f"{s.subject}/{s.sequence} ({EMOTIONS[label]})", fontsize=9)
        ax.set_ylim(-0.1, 1.4)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper left")
    for ax in list(axes.flat)[len(picked):]:
        ax.axis("off")
    fig.suptitle("Expression intensity (0 = frame 1, 1 = apex), real CK+ slice"
                 + (", model: subjects it never saw" if run else ""), fontsize=10)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    print(f"wrote {png} ({len(picked)} sequences)")
    for s in picked:
        print(f"  {s.subject}/{s.sequence}: {s.frames} frames, trim {trim_onset(s.frames)}")
        for m in methods:
            one = found[m][s.sequence_id]
            print(f"    {m:<9} onset {one.suggested_onset}  "
                  + (" ".join(f"{v:.2f}" for v in one.curve) or one.note))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=123)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=None,
                        help="default: landmarks,crops (and model with --run)")
    parser.add_argument("--run", help="the model signal's run folder (needs a neutral class)")
    parser.add_argument("--train-set", type=Path, help="write the real slice's training "
                        "folder here (--export, --ck48, --held-out) and stop")
    parser.add_argument("--export", type=Path, help="the real slice's own export")
    parser.add_argument("--ck48", type=Path, default=Path("../shared/data/ckplus-dev/ck48"))
    parser.add_argument("--held-out", default="S055,S106,S113,S125,S132,S503,S506")
    parser.add_argument("--pick", action="store_true", help="sweep the threshold on --seed 1")
    parser.add_argument("--real", type=Path, help="a real CK+ folder: draw its curves")
    parser.add_argument("--png", type=Path, default=Path("/tmp/team/onset_curves.png"))
    parser.add_argument("--count", type=int, default=9)
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="noise (px) added to the demo's exact landmark points")
    args = parser.parse_args()
    default = "landmarks,crops,model" if args.run else "landmarks,crops"
    methods = [m for m in (args.methods or default).split(",") if m]
    if args.train_set:
        real_training_set(args.export, args.ck48, args.train_set,
                          set(args.held_out.split(",")))
    elif args.real:
        real_curves(args.real, args.png, args.count, args.run)
    elif args.pick:
        pick(args.subjects, args.seed if args.seed else 1, methods)
    else:
        report(args.subjects, args.seed, methods, args.jitter, args.run)


if __name__ == "__main__":
    main()
