"""Who is asking: a signed session cookie (browsers) or an `Authorization: Bearer` token
(scripts). Browser writes also need the CSRF token kept in the session; token requests
carry no cookies, so they are not open to cross-site forgery and need none."""

import secrets
from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.deps import get_session
from app.models import User
from app.services.users import user_for_token

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


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


class NotAuthenticated(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, message: str = "You do not have permission to do that."):
        super().__init__(message)


class CsrfRejected(Exception):
    pass


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def log_in(request: Request, user: User) -> None:
    request.session.clear()  # a new session on login: no fixation
    request.session["uid"] = user.id
    csrf_token(request)


def log_out(request: Request) -> None:
    request.session.clear()


def _is_bearer(request: Request) -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


async def csrf_guard(request: Request) -> None:
    """Browser writes must carry the session's CSRF token (header or form field). Async
    because reading a form body is; it touches no database, so it never blocks the loop."""
    if request.method in SAFE_METHODS or _is_bearer(request) or "uid" not in request.session:
        return  # reads, scripts with tokens, and the not-signed-in (refused next) pass here
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not sent or not secrets.compare_digest(str(sent), expected):
        raise CsrfRejected()


def current_user(request: Request, session: Session = Depends(get_session),
                 _csrf: None = Depends(csrf_guard)) -> User:
    """Any signed-in user. A plain function on purpose: FastAPI runs it in the thread pool,
    so its database lookup never blocks the event loop (an async version stalled the
    server under 20 concurrent reviewers)."""
    if _is_bearer(request):
        header = request.headers["Authorization"]
        user = user_for_token(session, header[7:].strip())
        if user is None:
            raise NotAuthenticated()
        return _remember(request, user)
    uid = request.session.get("uid")
    user = session.get(User, uid) if uid else None
    if user is None or not user.active:
        raise NotAuthenticated()
    return _remember(request, user)


def require_reviewer(user: User = Depends(current_user)) -> User:
    """Reviewers and admins may review."""
    return user


def require_admin(user: User = Depends(current_user)) -> User:
    if not user.is_admin:
        raise Forbidden("Only admins can do that.")
    return user
