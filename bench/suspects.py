"""How well the suspects queue finds the demo's planted wrong labels, against the reference:
the same sequences in a random order.

    .venv/bin/python bench/suspects.py [--subjects 123] [--preset default] [--retrain]
    .venv/bin/python bench/suspects.py --subjects 30 --preset baseline    # a quick check

`onset demo` plants wrong CK+ labels on about 5% of the labelled sequences
(demo_truth.csv's `label_is_wrong`). The script generates the demo (once), imports it into
a fresh database, exports the peak frames (`--policy peak`, the last 3 frames, nothing
reviewed, so the labels are CK+'s own), trains the preset with `onset train` (10 subject
folds; the run is kept and reused unless --retrain), ranks the labelled sequences with
`onset suspects`' service and prints, with K = the number of planted wrong labels:
precision at K and at 2K (the share of the top-K / top-2K that are wrong), the share of the
wrong labels found in the top 2K, and the same for a random order (expected value, and the
mean of 1,000 shuffles).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_OUT  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ONSET = [sys.executable, "-m", "app"]


def onset(env: dict, *args, capture: bool = False) -> str:
    result = subprocess.run([*ONSET, *map(str, args)], env=env, cwd=ROOT, check=True,
                            text=True, stdout=subprocess.PIPE if capture else None)
    return result.stdout or ""


def prepare(base: Path, subjects: int, seed: int, preset: str, retrain: bool) -> tuple[dict, Path]:
    """(environment, run folder): demo, database, peak export and trained run, each once."""
    env = {**os.environ, "ONSET_DATA_DIR": str(base / "data"),
           "ONSET_DATABASE_URL": f"sqlite:///{base / 'data' / 'onset.db'}",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    demo, export, runs = base / "demo", base / "peak", base / f"runs-{preset}"
    if not (demo / "demo_truth.csv").is_file():
        onset(env, "demo", "--out", demo, "--subjects", subjects, "--seed", seed, "--json",
              capture=True)
    onset(env, "db", "upgrade")
    if not (base / "imported.json").is_file():
        (base / "imported.json").write_text(onset(env, "import", demo, "--json", capture=True))
    if not (export / "dataset.json").is_file():
        onset(env, "export", export, "--policy", "peak", "--json", capture=True)
    found = sorted(runs.glob("*/predictions.csv"))
    if retrain or not found:
        start = time.perf_counter()
        print(f"training preset {preset} on {export} (10 folds) ...", flush=True)
        out = json.loads(onset(env, "train", export, "--preset", preset, "--out", runs,
                               "--json", capture=True))
        print(f"  trained in {time.perf_counter() - start:.0f} s: accuracy "
              f"{out.get('metrics', out).get('accuracy', {}).get('mean', float('nan')):.3f}")
        found = sorted(runs.glob("*/predictions.csv"))
    return env, found[-1].parent


def truth(demo: Path) -> dict[tuple[str, str], bool]:
    with open(demo / "demo_truth.csv", newline="") as fh:
        return {(r["subject"], r["sequence"]): r["label_is_wrong"] == "1"
                for r in csv.DictReader(fh) if r["ck_label"]}


def ranked(env: dict, run: Path) -> tuple[list[tuple[str, str]], int, list[str]]:
    from app.config import Settings
    from app.db import make_engine, make_session_factory, session_scope
    from app.services.assist.suspects import find_suspects

    settings = Settings(data_dir=Path(env["ONSET_DATA_DIR"]),
                        database_url=env["ONSET_DATABASE_URL"])
    engine = make_engine(settings.resolved_database_url)
    with session_scope(make_session_factory(engine)) as session:
        report = find_suspects(session, settings, run=str(run))
    engine.dispose()
    order = [(s.subject, s.sequence) for s in report.items]
    return order, len(report.flagged), report.notes


def precision(order: list, wrong: set, k: int) -> float:
    return sum(item in wrong for item in order[:k]) / k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=123)
    parser.add_argument("--seed", type=int, default=0, help="the demo's seed")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args()
    base = BENCH_OUT / (f"assist-{args.subjects}" if args.seed == 0
                        else f"assist-{args.subjects}-{args.seed}")
    env, run = prepare(base, args.subjects, args.seed, args.preset, args.retrain)
    key = truth(base / "demo")
    order, flagged, notes = ranked(env, run)
    wrong = {item for item, bad in key.items() if bad}
    k = len(wrong)
    scored = len(order)
    print(f"demo: {args.subjects} subjects (seed {args.seed}), {len(key)} labelled sequences, "
          f"{k} planted wrong labels (K); run {run.name} (preset {args.preset}); "
          f"{scored} sequences ranked, {flagged} flagged by confident learning")
    for note in notes:
        print(f"  note: {note}")
    if not k:
        print("no planted wrong labels: nothing to measure")
        return
    p_k, p_2k = precision(order, wrong, k), precision(order, wrong, 2 * k)
    found_2k = sum(item in wrong for item in order[:2 * k]) / k
    rng = random.Random(0)
    shuffles = []
    for _ in range(1000):
        shuffled = order[:]
        rng.shuffle(shuffled)
        shuffles.append((precision(shuffled, wrong, k), precision(shuffled, wrong, 2 * k),
                         sum(i in wrong for i in shuffled[:2 * k]) / k))
    base_rate = sum(item in wrong for item in order) / scored
    print(f"{'order':<22}{'precision@K':>12}{'precision@2K':>14}{'wrong found in top 2K':>23}")
    print(f"{'suspects queue':<22}{p_k:>12.3f}{p_2k:>14.3f}{found_2k:>23.1%}")
    print(f"{'random (mean of 1000)':<22}{statistics.fmean(s[0] for s in shuffles):>12.3f}"
          f"{statistics.fmean(s[1] for s in shuffles):>14.3f}"
          f"{statistics.fmean(s[2] for s in shuffles):>23.1%}")
    print(f"{'random (expected)':<22}{base_rate:>12.3f}{base_rate:>14.3f}"
          f"{min(1.0, 2 * k * base_rate / k):>23.1%}")
    print(f"ratio vs random: precision@K {p_k / base_rate:.1f}x, precision@2K "
          f"{p_2k / base_rate:.1f}x")
    print(f"top {k}: " + ", ".join(f"{s}/{q}{'*' if (s, q) in wrong else ''}"
                                   for s, q in order[:k]) + "   (* = planted wrong label)")


if __name__ == "__main__":
    main()
