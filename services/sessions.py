"""Sign-in sessions: rotating refresh tokens (stored hashed), revocation, and what a request's token is worth now."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import LoginSession, Role, User
from models.base import utcnow
from services.auth import AuthError


@dataclass(frozen=True)
class UserState:
    """What decides whether a user's access tokens are still good."""

    token_version: int
    role: Role
    branch_id: int | None
    deleted: bool


class RefreshTokenReused(AuthError):
    """Raised after the session was revoked: the caller commits that revocation, then answers 401."""

    def __init__(self, session_id: uuid.UUID):
        super().__init__("this refresh token was already used; the session is revoked", code="refresh_token_reused")
        self.session_id = session_id


def _digest(refresh_token: str) -> str:
    # surrogatepass: a client can send a lone surrogate, which must be a mismatch, not an error.
    return hashlib.sha256(refresh_token.encode("utf-8", "surrogatepass")).hexdigest()


def _new_refresh_token(session_id: uuid.UUID) -> str:
    """`<session id>.<32 random bytes>`: it names its session, so an earlier, rotated one is recognised."""
    return f"{session_id.hex}.{secrets.token_urlsafe(32)}"


def start(session: Session, user_id: int, days: int) -> tuple[LoginSession, str]:
    """A new session for the user; (session, its first refresh token)."""
    now = utcnow()
    session_id = uuid.uuid4()
    token = _new_refresh_token(session_id)
    row = LoginSession(id=session_id, user_id=user_id, refresh_hash=_digest(token), rotations=0, created_at=now,
                       expires_at=now + timedelta(days=days))
    session.add(row)
    session.flush()
    return row, token


def rotate(session: Session, refresh_token: str, days: int) -> tuple[LoginSession, str]:
    """Exchange the session's current refresh token for a new one (and `days` more).

    A token that names the session but is not its current one was rotated out earlier: someone
    kept a copy. The whole session is revoked (reuse detection): RefreshTokenReused."""
    session_id = _session_id_of(refresh_token)
    row = session.scalar(select(LoginSession).where(LoginSession.id == session_id).with_for_update())
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AuthError("the refresh token is not valid", code="invalid_refresh_token")
    if not hmac.compare_digest(row.refresh_hash, _digest(refresh_token)):
        row.revoked_at, row.revoked_reason = now, "refresh_token_reused"
        session.flush()
        raise RefreshTokenReused(row.id)
    user = session.get(User, row.user_id)
    if user is None or user.deleted_at is not None:
        raise AuthError("the refresh token is not valid", code="invalid_refresh_token")
    token = _new_refresh_token(row.id)
    row.refresh_hash, row.rotations, row.refreshed_at = _digest(token), row.rotations + 1, now
    row.expires_at = now + timedelta(days=days)
    return row, token


def _session_id_of(refresh_token: str) -> uuid.UUID:
    head, dot, _ = refresh_token.partition(".")
    try:
        if not dot or len(head) != 32:
            raise ValueError(head)
        return uuid.UUID(hex=head)
    except ValueError as exc:
        raise AuthError("the refresh token is not valid", code="invalid_refresh_token") from exc


def revoke(session: Session, session_id: uuid.UUID, reason: str) -> None:
    session.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
                    .values(revoked_at=utcnow(), revoked_reason=reason).execution_options(synchronize_session=False))


def revoke_all(session: Session, user_id: int, reason: str, *, keep: uuid.UUID | None = None) -> list[uuid.UUID]:
    """Revoke the user's live sessions (but `keep`); their ids."""
    live = select(LoginSession.id).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    if keep is not None:
        live = live.where(LoginSession.id != keep)
    ids = list(session.scalars(live))
    if ids:
        session.execute(update(LoginSession).where(LoginSession.id.in_(ids))
                        .values(revoked_at=utcnow(), revoked_reason=reason)
                        .execution_options(synchronize_session=False))
    return ids


def user_state(session: Session, user_id: int) -> UserState | None:
    """None: no such user."""
    row = session.execute(select(User.token_version, User.role, User.branch_id, User.deleted_at)
                          .where(User.id == user_id)).first()
    if row is None:
        return None
    return UserState(token_version=row.token_version, role=row.role, branch_id=row.branch_id,
                     deleted=row.deleted_at is not None)


def session_live(session: Session, session_id: uuid.UUID, user_id: int) -> bool:
    """The session exists, is the user's and is not revoked (its refresh expiry does not matter here:
    an access token has its own, shorter one)."""
    return session.scalar(select(LoginSession.id).where(
        LoginSession.id == session_id, LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))) is not None


def bump_token_version(session: Session, user: User) -> None:
    """Every access token the user holds is refused from the commit on."""
    user.token_version = user.token_version + 1
