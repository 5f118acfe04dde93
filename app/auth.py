"""Who is asking: a signed session cookie (browsers) or an `Authorization: Bearer` token
(scripts). Browser writes also need the CSRF token kept in the session; token requests
carry no cookies, so they are not open to cross-site forgery and need none.

A signed cookie cannot be taken back once issued, so each one names the user's
`session_generation` at login; logging out (or a new password, or disabling the account)
bumps it, and a cookie from an older generation no longer signs anyone in."""

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.deps import get_session
from app.models import User
from app.services.errors import Forbidden
from app.services.users import user_for_token

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Declares the token scheme in OpenAPI (Swagger UI's Authorize button); reading and checking
# the header stays in current_user, which also takes the session cookie.
BEARER = HTTPBearer(auto_error=False, scheme_name="Bearer token",
                    description="An API token from `onset user token NAME`.")


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, as plain values for templates. Error pages render after the
    request's database session rolled back, when ORM objects can no longer load."""

    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _remember(request: Request, user: User) -> User:
    request.state.user = SignedIn(user.id, user.name, user.role)
    return user


# Every signed-in browser request's first query, built once: Session.get builds its SELECT
# anew on each call (measured A/B, two servers on one database: 0.1-0.3 ms a request).
_USER = select(User).where(User.id == bindparam("uid"))


class NotAuthenticated(Exception):
    pass


class CsrfRejected(Exception):
    pass


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_matches(request: Request, sent: object) -> bool:
    """Constant-time comparison of a sent token with the session's (login and every write)."""
    expected = request.session.get("csrf")
    return bool(expected and sent) and secrets.compare_digest(str(sent), str(expected))


def log_in(request: Request, user: User) -> None:
    """A new session on login (no fixation): fresh id and CSRF token, the current generation."""
    request.session.clear()
    request.session.update(uid=user.id, gen=user.session_generation,
                           sid=secrets.token_urlsafe(16))
    csrf_token(request)


def log_out(request: Request, session: Session, user: User) -> None:
    """End this user's sessions on the server side, then drop the cookie's contents."""
    from app.services.users import end_sessions

    end_sessions(session, user=user)
    request.session.clear()


def _is_bearer(request: Request) -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


async def csrf_guard(request: Request) -> None:
    """Browser writes must carry the session's CSRF token (header or form field). Async
    because reading a form body is; it touches no database, so it never blocks the loop."""
    if request.method in SAFE_METHODS or _is_bearer(request) or "uid" not in request.session:
        return  # reads, scripts with tokens, and the not-signed-in (refused next) pass here
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(CSRF_FIELD)
    if not csrf_matches(request, sent):
        raise CsrfRejected()


def current_user(request: Request, session: Session = Depends(get_session),
                 _csrf: None = Depends(csrf_guard),
                 _bearer: HTTPAuthorizationCredentials | None = Depends(BEARER)) -> User:
    """Any signed-in user. A plain function on purpose: FastAPI runs it in the thread pool,
    so its database lookup never blocks the event loop (an async version stalled the
    server under 20 concurrent reviewers)."""
    if _is_bearer(request):
        header = request.headers["Authorization"]
        user = user_for_token(session, header[7:].strip())
        if user is None:
            raise NotAuthenticated()
        # The token's last_used_at (at most once a minute) in a transaction of its own, now:
        # left pending, the handler's first query would write it and SQLite's write lock
        # would be held to the request's end, past the handler, while FastAPI validates a
        # sync route's response on the thread pool. Saves waiting for that lock can hold
        # every thread: a stall until SQLite's busy timeout (the kill test saw it).
        session.commit()
        return _remember(request, user)
    uid = request.session.get("uid")
    user = session.scalars(_USER, {"uid": uid}).first() if uid else None
    if (user is None or not user.active
            or request.session.get("gen") != user.session_generation):
        if uid:
            request.session.clear()  # ended on the server side: forget it in the browser too
        raise NotAuthenticated()
    return _remember(request, user)


# The role checks touch no database (the user row is loaded), so they are async: a plain
# function would cost every request one more hop to the thread pool and back.
async def require_reviewer(user: User = Depends(current_user)) -> User:
    """Reviewers and admins may review."""
    return user


async def require_admin(user: User = Depends(current_user)) -> User:
    if not user.is_admin:
        raise Forbidden("Only admins can do that.")
    return user


# What routes declare: `user: Reviewer`, `_user: Admin`, `user: CurrentUser`.
CurrentUser = Annotated[User, Depends(current_user)]
Reviewer = Annotated[User, Depends(require_reviewer)]
Admin = Annotated[User, Depends(require_admin)]
