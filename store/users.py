"""Staff accounts of the dashboard and API: users with a role, API tokens, login sessions.

Passwords are kept as argon2id hashes (argon2-cffi's defaults, RFC 9106's second
recommendation). API and session tokens are 256 random bits, shown to their holder once;
the store keeps only their SHA-256. A fast hash is enough for a secret nobody can guess
(a slow one protects guessable passwords), and a copy of the database lets nobody in.

Adding, disabling and re-keying a user each write an ``events`` row, like every other
staff action, so the audit log shows them.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.exceptions import NotFound, StoreError
from store.models import Base, Event
from store.types import UTCDateTime

ROLES = ("analyst", "manager", "admin")
MIN_PASSWORD = 12
# Names end up as the actor of events (64 characters) and in page text.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# RFC 9106's low-memory parameters; tests swap in argon2.profiles.CHEAPEST to run fast.
HASHER = PasswordHasher()


class BadUser(StoreError):
    """A user name, role or password that cannot be used; the message says why."""


class User(Base):
    """A member of staff who may use the dashboard and the API."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """The SHA-256 of a user's API token (``Authorization: Bearer``)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)


class LoginSession(Base):
    """A signed-in browser: the SHA-256 of its cookie, until ``expires_at``."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_login_sessions_user", "user_id"),)


def add_user(
    session: Session, name: str, role: str, password: str, *, actor: str, now: datetime
) -> tuple[User, str]:
    """Create a user; returns it with its API token, which is not stored and shown once."""
    if not _NAME.match(name):
        raise BadUser(f"{name!r} is not a user name (letters, digits, . _ @ -; up to 64)")
    if role not in ROLES:
        raise BadUser(f"{role!r} is not a role (one of {', '.join(ROLES)})")
    if len(password) < MIN_PASSWORD:
        raise BadUser(f"the password needs at least {MIN_PASSWORD} characters")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise BadUser(f"there already is a user {name!r}")
    user = User(
        name=name,
        role=role,
        password_hash=HASHER.hash(password),
        created_at=now,
        created_by=actor,
        disabled=False,
    )
    session.add(user)
    session.flush()
    session.add(Event(at=now, actor=actor, action="user_added", detail=f"{name} as {role}"))
    return user, _new_token(session, user, now)


def find_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The enabled user with this name and password, or None."""
    user = session.scalar(select(User).where(User.name == name))
    try:
        HASHER.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if HASHER.check_needs_rehash(user.password_hash):  # the parameters were raised since
        user.password_hash = HASHER.hash(password)
    return user


def set_disabled(session: Session, user: User, disabled: bool, *, actor: str, now: datetime):
    """Lock a user out (their sessions end at once) or let them back. False if already so."""
    if user.disabled == disabled:
        return False
    user.disabled = disabled
    if disabled:
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    action = "user_disabled" if disabled else "user_enabled"
    session.add(Event(at=now, actor=actor, action=action, detail=user.name))
    return True


def replace_token(session: Session, user: User, *, actor: str, now: datetime) -> str:
    """A new API token for ``user``; the old ones stop working."""
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    session.add(Event(at=now, actor=actor, action="token_replaced", detail=user.name))
    return _new_token(session, user, now)


def user_for_token(session: Session, token: str) -> User | None:
    return session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _digest(token), User.disabled.is_(False))
    )


def start_session(session: Session, user: User, *, now: datetime, ttl: timedelta) -> str:
    """A new login session; returns the cookie value. Expired sessions are swept here."""
    session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=now + ttl
        )
    )
    return token


def user_for_session(session: Session, token: str, *, now: datetime) -> User | None:
    return session.scalar(
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.token_hash == _digest(token),
            LoginSession.expires_at > now,
            User.disabled.is_(False),
        )
    )


def end_session(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(token)))


@functools.cache
def _dummy_hash() -> str:
    # Verified when the name is unknown, so that a wrong name costs what a wrong password
    # does and the time taken tells nobody which names exist.
    return HASHER.hash(secrets.token_hex(16))


def _new_token(session: Session, user: User, now: datetime) -> str:
    token = "ntd_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), created_at=now))
    return token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
