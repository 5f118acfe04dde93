"""A tiny labelled dataset and a fake run folder (export manifest + out-of-fold predictions)
for the suspects tests: every sequence predicted as its label except the planted one."""

import csv
import json

from sqlalchemy import select

from app.models import Frame, Run, Sequence, Subject
from tests.support.ckplus import SeqSpec

LABELS = ["anger", "happy", "surprise"]
CODES = {"anger": 1.0, "happy": 5.0, "surprise": 7.0}
# Four sequences per class; S007/002 is labelled happy but looks like surprise to the model.
SPECS = [SeqSpec(f"S{5 + i:03d}", f"{j:03d}", frames=4, label=CODES[LABELS[j - 1]])
         for i in range(4) for j in (1, 2, 3)]
WRONG = ("S007", "002")


def write_run(root, session, *, wrong=WRONG, drop_sequence_ids=False, with_predictions=True,
              active=True, run_id="run-1"):
    """An export folder (manifest with database ids) and a run folder of out-of-fold
    predictions over the last two frames of every sequence, registered as a run."""
    export, run = root / "export", root / "runs" / run_id
    export.mkdir(parents=True)
    run.mkdir(parents=True)
    rows = session.execute(select(Subject.code, Sequence.code, Sequence.id, Sequence.original_label,
                                  Frame.id, Frame.number)
                           .join(Sequence, Sequence.subject_id == Subject.id)
                           .join(Frame, Frame.sequence_id == Sequence.id)
                           .where(Frame.number >= 3)).all()
    names = {1: "anger", 5: "happy", 7: "surprise"}
    manifest, predictions = [], []
    for subject, code, seq_id, label, frame_id, number in rows:
        name = names[label]
        path = f"images/{name}/{subject}_{code}_{number:08d}.png"
        manifest.append({"path": path, "label": name, "subject": subject, "sequence": code,
                         "frame": number, "fold": 1, "sequence_id": seq_id,
                         "source_frame_id": frame_id})
        looks = "surprise" if (subject, code) == wrong else name
        probs = [0.9 if c == looks else 0.05 for c in LABELS]
        predictions.append([path, subject, code, number, 1, name, looks]
                           + [f"{p:.6f}" for p in probs])
    columns = list(manifest[0]) if not drop_sequence_ids else list(manifest[0])[:6]
    with open(export / "manifest.csv", "w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        out.writeheader()
        out.writerows(manifest)
    (run / "config.json").write_text(json.dumps({"run": {"id": run_id, "dataset": str(export)},
                                                 "dataset": {"id": "ds1", "labels": LABELS}}))
    (run / "metrics.json").write_text("{}")
    if with_predictions:
        with open(run / "predictions.csv", "w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["path", "subject", "sequence", "frame", "fold", "true_label",
                          "predicted_label"] + [f"prob_{c}" for c in LABELS])
            out.writerows(predictions)
    session.add(Run(id=run_id, kind="train", path=str(run), active=active))
    session.commit()
    return run
