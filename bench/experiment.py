"""Prepare the demo for the onset experiment (README "Experiments"): a reviewer marks onsets.

The demo ships no reviews, so a simulated reviewer, `demo-reviewer`, marks the answer key's
true onset (demo_truth.csv) on every labelled sequence of every other subject (sorted by
code: the 1st, 3rd, ...), the state of a review campaign half done, and keeps CK+'s label
(so labels are the same in every variant; only the onsets differ). Then the experiment
compares the onset policy (marked onsets, the 50% rule elsewhere), suggested (marked
onsets, suggested elsewhere), percent:50 and peak:3:

    ONSET_DATA_DIR=DIR .venv/bin/python bench/experiment.py DEMO_FOLDER
    ONSET_DATA_DIR=DIR nice -n 10 .venv/bin/onset experiment \
        --vary policy=onset,suggested,percent:50,peak:3 --folds 5 --preset scratch --epochs 4

DEMO_FOLDER is what `onset demo --out` wrote (and `onset import` read) into the database.
Marking again changes nothing (the same onset is already saved).

`--real` marks instead the onsets one of us marked by eye on 9 sequences of the real slice
(../shared/data/ckplus-dev/ckplus, imported into its own ONSET_DATA_DIR): every fifth
labelled sequence, looked at as a contact sheet of its frames (REAL_ONSETS).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


# (subject, sequence) -> the first frame that shows the emotion, marked by eye.
REAL_ONSETS = {("S052", "001"): 5, ("S055", "004"): 7, ("S074", "004"): 6,
               ("S111", "001"): 6, ("S113", "008"): 6, ("S125", "001"): 7,
               ("S130", "001"): 9, ("S132", "002"): 9, ("S502", "002"): 5}


def demo_onsets(demo: Path, share_every: int = 2) -> dict[tuple[str, str], int]:
    """The answer key's true onsets of every `share_every`-th subject (sorted by code)."""
    truth = {(r["subject"], r["sequence"]): int(r["true_onset"])
             for r in csv.DictReader(open(demo / "demo_truth.csv"))}
    subjects = sorted({s for s, _ in truth})[::share_every]
    return {key: onset for key, onset in truth.items() if key[0] in subjects}


def mark_onsets(onsets: dict[tuple[str, str], int]) -> int:
    from sqlalchemy import select

    from app.cli.common import db_session
    from app.models import Annotation, Sequence, Subject, User
    from app.services.review import ReviewInput, save_annotation

    marked = 0
    with db_session() as session:
        user = session.scalars(select(User).where(User.name == "demo-reviewer")).first()
        if user is None:
            user = User(name="demo-reviewer", role="reviewer", password_hash="!no-login")
            session.add(user)
            session.flush()
        rows = session.execute(select(Sequence.id, Subject.code, Sequence.code,
                                      Sequence.original_label)
                               .join(Subject, Sequence.subject_id == Subject.id)
                               .where(Sequence.original_label.is_not(None)))
        for seq_id, subject, code, label in rows:
            if (subject, code) not in onsets:
                continue
            existing = session.scalars(select(Annotation).where(
                Annotation.sequence_id == seq_id, Annotation.user_id == user.id)).first()
            onset = onsets[(subject, code)]
            if existing is not None and existing.onset_frame == onset:
                continue
            save_annotation(session, sequence_id=seq_id, user=user, data=ReviewInput(
                label=label, onset_frame=onset, apex_frame=None, note="", exclude=False,
                version=existing.version if existing else 0))
            marked += 1
        session.commit()
    return marked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demo", type=Path, nargs="?", help="the folder `onset demo --out` "
                        "wrote")
    parser.add_argument("--real", action="store_true", help="mark REAL_ONSETS instead")
    args = parser.parse_args()
    if not args.real and args.demo is None:
        parser.error("give DEMO_FOLDER, or --real")
    onsets = REAL_ONSETS if args.real else demo_onsets(args.demo)
    print(f"marked {mark_onsets(onsets)} onsets")


if __name__ == "__main__":
    main()
