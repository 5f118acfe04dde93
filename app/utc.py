"""One column type for moments in time: stored as UTC, always read back as an aware UTC
datetime, on SQLite (which keeps no offset and hands back naive values) and PostgreSQL
(`timestamptz`) alike, so no caller patches `tzinfo` on what it reads.

A naive datetime is refused when written (ValueError): nothing in Onset makes one on purpose
(`app.models.utcnow()` is aware), and guessing whether it meant UTC or local time would
store a wrong moment silently."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"UTCDateTime takes an aware datetime (e.g. app.models.utcnow()), "
                             f"not {value!r}")
        value = value.astimezone(UTC)
        # SQLite stores no offset: keep the naive UTC text it always held.
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
