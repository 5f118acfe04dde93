"""Export speed on a CK+-scale demo (123 subjects, ~10,300 frames), against `zip -r -1`.

The export copies the selected source frames unchanged (`--face none --size 0`), writes
manifest.csv and dataset.json, and renames the folder into place; the reference is
`zip -q -r -1` of exactly the same selected files (list given on stdin), run in the same
process on the same warm files. Also timed: the zip the browser downloads (`stream_zip` of
the export folder, written to a file) against the same reference. Aim: at most 1.5x.

A simulated reviewer marks every CK+-labelled sequence with its true onset (from the demo's
answer key, demo_truth.csv), so the `onset` policy has onsets to use; `percent` trims by the
default percentage. The script also prints how well each percentage matches the true
onsets, which is why the default is what it is.

    .venv/bin/python bench/export.py [--repeat 3] [--subjects 123] [--crops]
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_OUT, fresh_settings, full_scale_demo, timed  # noqa: E402


def load_truth(root: Path) -> dict[str, dict]:
    with open(root / "demo_truth.csv", newline="") as fh:
        return {f"{r['subject']}_{r['sequence']}": r for r in csv.DictReader(fh)}


def prepare_database(root: Path, truth: dict[str, dict]):
    """A fresh database with the demo imported and every labelled sequence reviewed."""
    from sqlalchemy import select

    from app.db import make_engine, make_session_factory
    from app.models import Annotation, Sequence, Subject, User
    from app.services.importer import import_ckplus

    settings = fresh_settings(BENCH_OUT / "export-db")
    factory = make_session_factory(make_engine(settings.resolved_database_url))
    with factory() as session:
        import_ckplus(session, root=root)
        reviewer = User(name="bench", role="reviewer", password_hash="!no-login")
        session.add(reviewer)
        session.flush()
        rows = session.execute(select(Sequence.id, Subject.code, Sequence.code,
                                      Sequence.original_label)
                               .join(Subject, Sequence.subject_id == Subject.id)).all()
        for seq_id, subject, code, label in rows:
            if label is not None:
                session.add(Annotation(sequence_id=seq_id, user_id=reviewer.id, label=label,
                                       onset_frame=int(truth[f"{subject}_{code}"]["true_onset"])))
        session.commit()
    return settings, factory


def run_export(factory, settings, options: dict, out: Path):
    from app.services.export import parse_params
    from app.services.export import run_export as export

    with factory() as session:
        result = export(session, settings, params=parse_params(options), out=out)
        session.commit()
    return result


def reference_zip(root: Path, files: list[str], target: Path, level: str = "-1") -> None:
    target.unlink(missing_ok=True)
    subprocess.run(["zip", "-q", "-r", level, str(target), "-@"], cwd=root, check=True,
                   input="\n".join(files).encode())


def selected_files(folder: Path) -> list[tuple[str, str]]:
    """(source frame relative to the CK+ root, image path in the export) per manifest row."""
    with open(folder / "manifest.csv", newline="") as fh:
        return [(f"cohn-kanade-images/{r['subject']}/{r['sequence']}/"
                 f"{r['subject']}_{r['sequence']}_{int(r['frame']):08d}.png", r["path"])
                for r in csv.DictReader(fh)]


def preview_time(factory) -> None:
    """The page's live preview (select + split, no images) against reading the frame table,
    the least any selection must do."""
    from sqlalchemy import select

    from app.models import Frame
    from app.services.export import parse_params, preview

    params = parse_params({"policy": "onset", "neutral_frames": 2, "split": "70/15/15"})
    with factory() as session:
        def bare() -> None:
            session.execute(select(Frame.id, Frame.sequence_id, Frame.number, Frame.path,
                                   Frame.mode)).all()
            session.expire_all()

        ref, _ = timed(bare, 5)
        took, runs = timed(lambda: preview(session, params), 5)
    print(f"\npreview (counts per class/fold/split): {took * 1000:.0f} ms  "
          f"runs {[round(t * 1000) for t in runs]}; reading the frame table {ref * 1000:.0f} ms; "
          f"ratio {took / ref:.1f}x")


def trim_table(truth: dict[str, dict]) -> None:
    """For each percentage: share of kept frames that are really neutral (label noise) and
    share of the true emotion frames kept, over the CK+-labelled demo sequences."""
    from app.services.export.selection import percent_cut

    labelled = [r for r in truth.values() if r["ck_label"]]
    print("\npercent trim against the true onsets (labelled demo sequences):")
    print("  p%   kept frames that are neutral   emotion frames kept")
    for p in (0, 20, 30, 40, 50, 60):
        kept = noisy = emotion = emotion_kept = 0
        for r in labelled:
            n, onset = int(r["frames"]), int(r["true_onset"])
            cut = percent_cut(n, p)
            kept += n - cut
            noisy += max(0, onset - 1 - cut)
            emotion += n - onset + 1
            emotion_kept += n - max(cut + 1, onset) + 1
        print(f"  {p:>3}   {noisy / kept:>27.1%}   {emotion_kept / emotion:>19.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=123)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--crops", action="store_true",
                        help="also time a 48 px landmark-crop export (cold, then cached)")
    args = parser.parse_args()
    if shutil.which("zip") is None:
        sys.exit("the `zip` command is needed for the reference (apt-get install zip)")
    root = full_scale_demo(args.subjects)
    truth = load_truth(root)
    settings, factory = prepare_database(root, truth)
    work = BENCH_OUT / "export-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"demo: {root} ({len(truth)} sequences), cpus: {os.cpu_count()}")
    for policy in ("onset", "percent"):
        options = {"policy": policy, "face": "none", "size": 0, "color": "gray"}
        # Gray, unresized: the demo's colour subjects are converted (and so re-encoded); the
        # rest are copied byte for byte. RGB keeps the colour frames as they are, but then
        # the gray ones would be converted instead; gray is what training uses.
        out = work / f"export-{policy}"
        result = run_export(factory, settings, options, out)  # warm-up: page cache, imports
        pairs = selected_files(out)
        files = [source for source, _ in pairs]
        copied = sum((root / source).read_bytes() == (out / image).read_bytes()
                     for source, image in pairs)
        ref_zip = work / f"reference-{policy}.zip"
        ref, ref_runs = timed(lambda f=files, z=ref_zip: reference_zip(root, f, z), args.repeat)
        stored, stored_runs = timed(lambda f=files, z=ref_zip: reference_zip(root, f, z, "-0"),
                                    args.repeat)
        exp, exp_runs = timed(lambda o=options, d=out: run_export(factory, settings, o, d),
                              args.repeat)
        from app.services.export import write_zip

        dl_zip = work / f"download-{policy}.zip"
        dl, dl_runs = timed(lambda d=out, z=dl_zip: write_zip(d, z), args.repeat)
        size_mb = sum((root / f).stat().st_size for f in files) / 1e6
        print(f"\npolicy {policy}: {result.counts['images']} images from "
              f"{result.counts['sequences']} sequences ({size_mb:.0f} MB of frames; "
              f"{copied} copied byte for byte), left out {result.left_out}, "
              f"onset fallback {result.counts['onset_fallback']}")
        print(f"  reference zip -r -1 of the same files: {ref:.3f} s  "
              f"runs {[round(t, 3) for t in ref_runs]}")
        print(f"  (for scale) zip -r -0, stored only:   {stored:.3f} s  "
              f"runs {[round(t, 3) for t in stored_runs]}")
        print(f"  Onset export to a folder:              {exp:.3f} s  "
              f"runs {[round(t, 3) for t in exp_runs]}  ratio {exp / ref:.2f}x (aim <= 1.5x)")
        print(f"  download zip of the export (streamed): {dl:.3f} s  "
              f"runs {[round(t, 3) for t in dl_runs]}  ratio {dl / ref:.2f}x")
    preview_time(factory)
    if args.crops:
        from app.services.export import parse_params  # noqa: F401 (imports before timing)

        crops = {"policy": "onset", "face": "landmarks", "size": 48, "color": "gray"}
        cold, _ = timed(lambda: run_export(factory, settings, crops, work / "crops"), 1)
        warm, _ = timed(lambda: run_export(factory, settings, crops, work / "crops"), 1)
        print(f"\nlandmark crops 48 px: first export {cold:.2f} s (cuts the crops), "
              f"again {warm:.2f} s (cached)")
    trim_table(truth)


if __name__ == "__main__":
    main()
