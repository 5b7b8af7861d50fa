"""Users, passwords (argon2) and access tokens (JWT, HS256 only)."""

from __future__ import annotations

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

_hasher = PasswordHasher()
# A hash to verify against when the email is unknown, so that both paths take the same time.
_DUMMY_HASH = _hasher.hash("conveyor-timing-equaliser")
ALGORITHM = "HS256"


class AuthError(DomainError):
    code = "unauthorized"
    status = 401


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    user_id: int
    role: Role


def hash_password(password: str) -> str:
    """Slow on purpose (argon2): call it before opening a transaction, never inside one."""
    return _hasher.hash(password)


def create_user(session: Session, email: str, password_hash: str, role: Role = Role.customer,
                branch_id: int | None = None) -> User:
    if branch_id is not None and session.get(Branch, branch_id) is None:
        raise DomainError("no such branch", code="unknown_branch", details={"branch_id": branch_id})
    user = User(email=email.strip().lower(), password_hash=password_hash, role=role, branch_id=branch_id)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise Conflict("a user with this email already exists", code="email_taken") from exc
    return user


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def check_password(user: User | None, password: str) -> User:
    """The user, if the password is theirs; the same work when the email is unknown (no timing oracle).

    Slow on purpose: outside any transaction."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise AuthError("wrong email or password", code="invalid_credentials")
    return user


def issue_token(user: User, secret: str, lifetime_seconds: int) -> str:
    now = utcnow()
    claims = {"sub": str(user.id), "role": user.role.value, "iat": now,
              "exp": now + timedelta(seconds=lifetime_seconds)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str) -> Principal:
    try:
        # Pinning the algorithm list refuses `alg: none` and any other algorithm swap.
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
        return Principal(user_id=int(claims["sub"]), role=Role(claims["role"]))
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("the access token has expired", code="token_expired") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError) as exc:
        raise AuthError("the access token is not valid", code="invalid_token") from exc
