"""Shared bits of the benchmark scripts: timing and a cached full-scale demo dataset."""

import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

BENCH_OUT = Path(__file__).resolve().parent / "out"


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, list[float]]:
    """Median wall time of `repeat` runs, and every run's time."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def full_scale_demo(subjects: int = 123, seed: int = 7) -> Path:
    """A CK+-scale demo dataset (about 10,700 frames), generated once and kept in bench/out."""
    from app.demo import generate_demo

    out = BENCH_OUT / f"demo-{subjects}-{seed}"
    if not (out / "demo_truth.csv").is_file():
        # Generated beside and renamed when whole: the generator writes demo_truth.csv before
        # the images, so an interrupted run must not leave a folder that looks finished.
        partial = out.with_name(out.name + ".partial")
        print(f"generating a {subjects}-subject demo dataset in {out} (once) ...", flush=True)
        shutil.rmtree(partial, ignore_errors=True)
        generate_demo(partial, subjects=subjects, seed=seed)
        shutil.rmtree(out, ignore_errors=True)  # what an interrupted older run left
        partial.rename(out)
    return out


def fresh_settings(folder: Path):
    """Settings for a new, migrated SQLite database in `folder`."""
    import shutil

    from app.config import Settings
    from app.migrate import upgrade

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    settings = Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'onset.db'}")
    upgrade(settings)
    return settings
