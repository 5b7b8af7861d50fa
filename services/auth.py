"""Users, emails, passwords (argon2) and access tokens (JWT, HS256 only)."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Branch, Role, User
from models.base import utcnow
from services.errors import Conflict, DomainError
from services.subscriptions import changes as subscriptions

# OWASP's minimum for argon2id (t=2, 19 MiB, p=1): a hash costs tens of milliseconds of CPU and
# 19 MiB, not half a second and 64 MiB; stored hashes with other parameters are redone at login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# A hash to verify against when the email is unknown, so that both paths take the same time.
_DUMMY_HASH = _hasher.hash("conveyor-timing-equaliser")
ALGORITHM = "HS256"
EMAIL_MAX_LENGTH = 254  # the column's


class AuthError(DomainError):
    code = "unauthorized"
    status = 401


@dataclass(frozen=True)
class Principal:
    """Who a valid token or API key speaks for, as the database says now (role and branch are not the token's)."""

    user_id: int
    role: Role
    session_id: uuid.UUID | None = None
    branch_id: int | None = None
    api_key_id: int | None = None  # set when an API key, not a sign-in session's token, authenticated the request

    def sees(self, stmt, owner_column):
        """`stmt` narrowed to the rows this principal may see by their owner: an admin all, anyone else their own."""
        return stmt if self.role == Role.admin else stmt.where(owner_column == self.user_id)


@dataclass(frozen=True)
class TokenClaims:
    """What an access token says; believed only once its user and session are checked (web/auth.py)."""

    user_id: int
    role: Role
    version: int
    session_id: uuid.UUID


def normalise_email(email: str) -> str:
    """NFKC and case-folded, so that look-alikes (`ａlice@`, `ALICE@`) are one address.

    NFKC again after case folding, which can leave text that NFKC would change."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())


def hash_password(password: str) -> str:
    """Slow on purpose (argon2): call it before opening a transaction, never inside one."""
    return _hasher.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """Hashed with other parameters than today's: redo it at the next successful login."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def require_branch(session: Session, branch_id: int | None) -> None:
    """A user's branch must exist: 422 unknown_branch, not the foreign key's error."""
    if branch_id is not None and session.get(Branch, branch_id) is None:
        raise DomainError("no such branch", code="unknown_branch", details={"branch_id": branch_id})


def create_user(session: Session, email: str, password_hash: str, role: Role = Role.customer,
                branch_id: int | None = None) -> User:
    email = normalise_email(email)
    if len(email) > EMAIL_MAX_LENGTH:
        raise DomainError("the email is too long", code="validation_error", details={"email": ["too long"]})
    require_branch(session, branch_id)
    user = User(email=email, password_hash=password_hash, role=role, branch_id=branch_id, token_version=0)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise Conflict("a user with this email already exists", code="email_taken") from exc
    # Every user has a subscription: the free tier, with its first period's grant.
    subscriptions.start_default(session, user.id, now=utcnow())
    return user


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def check_password(user: User | None, password: str) -> User:
    """The user, if the password is theirs; the same work when the email is unknown, the user has
    no password (signs in through a provider) or was deleted: no timing oracle.

    Slow on purpose: outside any transaction."""
    usable = user is not None and user.password_hash.startswith("$argon2")
    try:
        matches = _hasher.verify(user.password_hash if usable else _DUMMY_HASH, password) and usable
    except (VerificationError, InvalidHashError):
        matches = False
    if not matches or user.deleted_at is not None:
        raise AuthError("wrong email or password", code="invalid_credentials")
    return user


def issue_token(user: User, secret: str, lifetime_seconds: int, *, session_id: uuid.UUID) -> str:
    now = utcnow()
    claims = {"sub": str(user.id), "role": user.role.value, "ver": user.token_version, "sid": str(session_id),
              "iat": now, "exp": now + timedelta(seconds=lifetime_seconds)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str) -> TokenClaims:
    try:
        # Pinning the algorithm list refuses `alg: none` and any other algorithm swap.
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
        version = claims["ver"]
        if type(version) is not int:
            raise ValueError("ver")
        return TokenClaims(user_id=int(claims["sub"]), role=Role(claims["role"]), version=version,
                           session_id=uuid.UUID(claims["sid"]))
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("the access token has expired", code="token_expired") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise AuthError("the access token is not valid", code="invalid_token") from exc
