"""Users, passwords (argon2) and API tokens (only their SHA-256 is stored)."""

import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ROLES, ApiToken, User, utcnow

_hasher = PasswordHasher()
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD = 8
TOKEN_USE_GRAIN = timedelta(minutes=1)  # how finely `last_used_at` follows a token's use


class UserError(ValueError):
    """A bad user name, role or password; the message names what is wrong."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, *, name: str, password: str, role: str = "reviewer") -> User:
    if not NAME_RE.match(name):
        raise UserError(f"user name {name!r} must be 2-64 letters, digits, '_', '.' or '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.name == name)):
        raise UserError(f"user {name!r} already exists")
    user = User(name=name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, name: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.name == name, User.active.is_(True)))
    if user is None:
        _hasher.hash(password)  # spend the same time, so names can't be probed by timing
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def find_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user named {name!r}")
    return user


def new_api_token(session: Session, *, user: User) -> str:
    """A fresh token for `user`; the plain text is returned once and never stored (only its
    SHA-256, and its last 4 characters so that listings can tell tokens apart)."""
    token = "onset_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), hint=token[-4:]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or not row.user.active:
        return None
    now = utcnow()
    last = row.last_used_at
    if last is None or now - last > TOKEN_USE_GRAIN:
        # At most once a minute: a write on every request would take SQLite's write lock
        # at the start of each one (reads too) and hold it to the end, serialising them all.
        row.last_used_at = now
    return row.user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_first_admin(session: Session, *, name: str = "admin") -> str | None:
    """Create an admin with a generated password when there is none; return the password
    (to be shown once) or None when an admin already exists."""
    if session.scalar(select(func.count(User.id)).where(User.role == "admin")):
        return None
    password = secrets.token_urlsafe(12)
    create_user(session, name=name, password=password, role="admin")
    return password


# Account life cycle. Every change that should lock someone out also ends their sessions.

def end_sessions(session: Session, *, user: User) -> None:
    """Every session cookie issued to `user` so far stops working (log out everywhere)."""
    user.session_generation = (user.session_generation or 0) + 1
    session.flush()


def set_password(session: Session, *, name: str, password: str) -> User:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    user = find_user(session, name)
    user.password_hash = hash_password(password)
    end_sessions(session, user=user)
    return user


def _other_active_admins(session: Session, user: User) -> int:
    return session.scalar(select(func.count(User.id)).where(
        User.role == "admin", User.active.is_(True), User.id != user.id)) or 0


def _keep_an_admin(session: Session, user: User, doing: str) -> None:
    if user.is_admin and user.active and not _other_active_admins(session, user):
        raise UserError(f"{user.name!r} is the last active admin; {doing} would leave nobody "
                        "able to administer Onset (make another admin first)")


def set_active(session: Session, *, name: str, active: bool) -> User:
    """Disable (sessions and API tokens stop working at once) or enable an account."""
    user = find_user(session, name)
    if not active:
        _keep_an_admin(session, user, "disabling them")
        end_sessions(session, user=user)
    user.active = active
    session.flush()
    return user


def set_role(session: Session, *, name: str, role: str) -> User:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of: {', '.join(ROLES)}")
    user = find_user(session, name)
    if role != "admin":
        _keep_an_admin(session, user, f"making them a {role}")
    if user.role != role:
        user.role = role
        end_sessions(session, user=user)  # pages cached with the old role's rights go
    session.flush()
    return user


def list_tokens(session: Session, *, name: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).join(ApiToken.user).order_by(ApiToken.id)
    if name is not None:
        query = query.where(ApiToken.user_id == find_user(session, name).id)
    return list(session.scalars(query))


def revoke_token(session: Session, *, token_id: int) -> ApiToken:
    """Delete an API token; scripts using it get 401 from the next request on."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise UserError(f"no API token with id {token_id} (see `onset user tokens`)")
    session.delete(row)
    session.flush()
    return row
