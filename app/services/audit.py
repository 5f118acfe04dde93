"""The audit log: who changed what, when, with the value before and after."""

from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditEntry


def record(session: Session, *, action: str, user_id: int | None = None,
           sequence_id: int | None = None, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None) -> AuditEntry:
    entry = AuditEntry(action=action, user_id=user_id, sequence_id=sequence_id,
                       before=before, after=after)
    session.add(entry)
    return entry
