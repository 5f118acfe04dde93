"""Dataset summary for `onset stats`, the home page and `GET /api/stats`."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import EMOTIONS, DatasetSource, Frame, Sequence, Subject


def dataset_stats(session: Session) -> dict:
    """Counts of what is imported; `labels` counts the original CK+ labels by name."""
    label_rows = session.execute(
        select(Sequence.original_label, func.count()).where(Sequence.original_label.is_not(None))
        .group_by(Sequence.original_label).order_by(Sequence.original_label)
    ).all()
    mode_rows = session.execute(select(Frame.mode, func.count()).group_by(Frame.mode)).all()
    size_rows = session.execute(
        select(Frame.width, Frame.height, func.count()).group_by(Frame.width, Frame.height)
    ).all()
    source = session.scalars(select(DatasetSource)).first()
    return {
        "subjects": session.scalar(select(func.count(Subject.id))) or 0,
        "sequences": session.scalar(select(func.count(Sequence.id))) or 0,
        "frames": session.scalar(select(func.count(Frame.id))) or 0,
        "labeled_sequences": sum(n for _, n in label_rows),
        "labels": {EMOTIONS[code]: n for code, n in label_rows},
        "frame_modes": {mode: n for mode, n in mode_rows},
        "frame_sizes": {f"{w}x{h}": n for w, h, n in size_rows},
        "source": None if source is None else {"root": source.root, "is_demo": source.is_demo},
    }
