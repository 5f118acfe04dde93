"""FastAPI dependencies shared by the routers."""

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from app.db import session_scope


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed when the handler returns without error."""
    with session_scope(request.app.state.session_factory) as session:
        yield session
