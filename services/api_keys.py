"""Users' API keys: made (shown once), listed, revoked, and looked up by their digest.

A key is `ck_` and 32 random bytes (256 bits, url-safe base64). Only its SHA-256 is stored: a key
that cannot be guessed needs no slow hash (argon2 exists to stretch low-entropy passwords; no
stretching makes 2^256 guesses feasible or infeasible), and a fast, unsalted digest is what lets a
request find its key by an indexed equality instead of paying tens of milliseconds and 19 MiB of
argon2 on every call. Unkeyed (not HMAC with SECRET_KEY) so that rotating the secret does not void
every key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from models import ApiKey
from models.base import utcnow
from services.errors import Conflict, NotFound

KEY_PREFIX = "ck_"
KEY_SHAPE = re.compile(r"ck_[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 43 characters
SHOWN_PREFIX_LENGTH = 11  # "ck_" and 8 characters: 48 bits, enough to tell keys apart, useless to guess with
MAX_LIVE_KEYS = 100  # per user
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class KeyRef:
    """What a presented key resolves to."""

    key_id: int
    user_id: int
    revoked: bool


def digest(key: str) -> str:
    # surrogatepass: a client can send a lone surrogate, which must be a mismatch, not an error.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_key(token: str) -> bool:
    """An API key rather than an access token (its shape is checked later: a wrong one is a 401)."""
    return token.startswith(KEY_PREFIX)


def create(session: Session, user_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key for the user; (its row, the key itself, which is never stored nor shown again)."""
    live = session.scalar(select(func.count()).select_from(ApiKey)
                          .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None)))
    if live >= MAX_LIVE_KEYS:
        raise Conflict(f"at most {MAX_LIVE_KEYS} live API keys per user; revoke one first",
                       code="too_many_api_keys", details={"limit": MAX_LIVE_KEYS})
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(user_id=user_id, name=name, prefix=key[:SHOWN_PREFIX_LENGTH], key_hash=digest(key),
                 created_at=utcnow())
    session.add(row)
    session.flush()
    return row, key


def keys_of(user_id: int) -> Select:
    """The user's keys, revoked ones included (for paging)."""
    return select(ApiKey).where(ApiKey.user_id == user_id)


def revoke(session: Session, user_id: int, key_id: int) -> ApiKey:
    """Revoke one of the user's keys (again: no change); another user's key is unknown."""
    row = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))
    if row is None:
        raise NotFound("no such API key", code="unknown_api_key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def resolve(session: Session, key_hash: str) -> KeyRef | None:
    """The key with this digest; None if there is none."""
    row = session.execute(select(ApiKey.id, ApiKey.user_id, ApiKey.revoked_at)
                          .where(ApiKey.key_hash == key_hash)).first()
    return None if row is None else KeyRef(row.id, row.user_id, row.revoked_at is not None)


def touch(session: Session, key_id: int, now: datetime | None = None) -> None:
    """Record a use, unless one was recorded within the last TOUCH_INTERVAL."""
    now = now or utcnow()
    session.execute(update(ApiKey).where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None),
                                                                  ApiKey.last_used_at < now - TOUCH_INTERVAL))
                    .values(last_used_at=now).execution_options(synchronize_session=False))
