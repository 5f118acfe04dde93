"""Users, passwords (argon2) and API tokens (only their SHA-256 is stored)."""

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ROLES, ApiToken, User, utcnow

_hasher = PasswordHasher()
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD = 8


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
    """A fresh token for `user`; the plain text is returned once and never stored."""
    token = "onset_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token)))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or not row.user.active:
        return None
    row.last_used_at = utcnow()
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
