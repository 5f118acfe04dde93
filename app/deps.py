"""FastAPI dependencies shared by the routers. Routes take `session: SessionDep`; the user
aliases (`CurrentUser`, `Reviewer`, `Admin`) sit in app/auth.py beside the checks they run,
since app.auth depends on this module."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from app.db import session_scope
from app.models import MAX_ID


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed when the handler returns without error."""
    with session_scope(request.app.state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

# An id in a URL above what a row id can be (app.models.MAX_ID) is refused as invalid (422,
# naming it) instead of failing in the database driver with a 500; no row can have it.
DbId = Annotated[int, Path(le=MAX_ID, description="a row id")]
