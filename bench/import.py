"""Import speed: `onset import` of a full-scale demo CK+ (123 subjects, ~10,700 frames)
against the reference, a bare pass that only lists the files and reads each PNG header
with Pillow. Both read the same warm files in the same run; the ratio is what counts.

    .venv/bin/python bench/import.py [--subjects 123] [--repeat 3]
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from bench.common import BENCH_OUT, fresh_settings, full_scale_demo, timed  # noqa: E402


def bare_pass(root: Path) -> int:
    """The reference: walk the image folders, read every PNG header."""
    count = 0
    for folder, _dirs, files in os.walk(root / "cohn-kanade-images"):
        for name in files:
            if name.endswith(".png"):
                with Image.open(os.path.join(folder, name)) as image:
                    image.size, image.mode  # noqa: B018 (the header is the work)
                count += 1
    return count


def onset_import(root: Path, repeat: int) -> tuple[float, list[float], int]:
    """Median time of `repeat` imports, each into a new, migrated (untimed) database."""
    import statistics
    import time

    from app.db import make_engine, make_session_factory, session_scope
    from app.services.importer import import_ckplus

    times, frames = [], 0
    for _ in range(repeat):
        settings = fresh_settings(BENCH_OUT / "import-db")
        engine = make_engine(settings.resolved_database_url)
        start = time.perf_counter()
        with session_scope(make_session_factory(engine)) as session:
            frames = import_ckplus(session, root=root).frames_added
        times.append(time.perf_counter() - start)
        engine.dispose()
    return statistics.median(times), times, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=123)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = full_scale_demo(args.subjects)
    frames = bare_pass(root)  # warm the page cache so neither side pays for cold reads
    ref, ref_runs = timed(lambda: bare_pass(root), args.repeat)
    imported, imp_runs, imported_frames = onset_import(root, args.repeat)
    assert imported_frames == frames, "the import missed frames"
    print(f"frames: {frames}")
    print(f"reference (list + PNG headers): {ref:.3f} s  runs {[round(t, 3) for t in ref_runs]}")
    print(f"onset import (fresh database):  {imported:.3f} s  "
          f"runs {[round(t, 3) for t in imp_runs]}")
    print(f"ratio import / reference: {imported / ref:.2f}x  (aim: at most 2x)")


if __name__ == "__main__":
    main()
