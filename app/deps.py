"""FastAPI dependencies shared by the routers. Routes take `session: SessionDep`; the user
aliases (`CurrentUser`, `Reviewer`, `Admin`) sit in app/auth.py beside the checks they run,
since app.auth depends on this module."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from app.db import session_scope


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed when the handler returns without error."""
    with session_scope(request.app.state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

# Row ids are INTEGER columns: PostgreSQL's hold up to 2**31 - 1 (SQLite's 2**63 - 1). A bigger
# id in a URL is refused as invalid (422, naming it) instead of failing in the database
# driver with a 500; no row can have it.
MAX_ID = 2**31 - 1
DbId = Annotated[int, Path(le=MAX_ID, description="a row id")]
