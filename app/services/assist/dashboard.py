"""The home page dashboard: review progress overall and per reviewer, where to continue,
what waits (disagreements, suspects), recent jobs and runs, the active model."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import Annotation, Job, User
from app.services.assist.adjudication import disputes
from app.services.assist.suspects import suspect_scores
from app.services.runs import active_run, list_runs
from app.services.sequence_list import ListFilters, load_rows, next_in_queue, progress_of
from app.services.stats import dataset_stats

RECENT = 5


def dashboard(session: Session, settings: Settings, *, user: User) -> dict[str, Any]:
    rows = load_rows(session, user_id=user.id)
    suspects, suspects_note = suspect_scores(session, settings)
    flagged = sorted((s for s in suspects.values() if s.flagged), key=lambda s: s.rank)
    mine = {r.id for r in rows if r.reviewed_by_me}
    waiting = [s for s in flagged if s.sequence_id not in mine]
    return {
        "stats": dataset_stats(session),
        "progress": progress_of(rows),
        "reviewers": _per_reviewer(session, total=len(rows)),
        "continue_id": next_in_queue(session, user_id=user.id, after_id=-1,
                                     filters=ListFilters()),
        "suspects": {"flagged": len(flagged), "waiting": len(waiting),
                     "next_id": waiting[0].sequence_id if waiting else None,
                     "note": suspects_note},
        "disputes": len(disputes(session, onset_gap=settings.adjudication_onset_gap)),
        "jobs": list(session.scalars(select(Job).order_by(Job.created_at.desc(), Job.id.desc())
                                     .limit(RECENT))),
        "runs": list_runs(session, settings)[:RECENT],
        "active_run": active_run(session),
    }


def _per_reviewer(session: Session, *, total: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(User.name, User.role, func.count(Annotation.id), func.max(Annotation.updated_at))
        .join(Annotation, Annotation.user_id == User.id)
        .group_by(User.id).order_by(func.count(Annotation.id).desc(), User.name)).all()
    return [{"name": name, "role": role, "reviewed": n, "last": last,
             "percent": 100.0 * n / total if total else 0.0} for name, role, n, last in rows]
