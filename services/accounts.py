"""Changing accounts: profile, password, role and branch, deletion; and who may see or act on whom."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Account, Role, Transfer, User
from models.base import utcnow
from services import sessions
from services.auth import EMAIL_MAX_LENGTH, Principal, normalise_email, require_branch
from services.errors import Conflict, DomainError, NotFound

_MISSING = object()


def live_user(session: Session, user_id: int, *, lock: bool = False) -> User:
    stmt = select(User).where(User.id == user_id, User.deleted_at.is_(None))
    user = session.scalar(stmt.with_for_update() if lock else stmt)
    if user is None:
        raise NotFound("no such user", code="unknown_user")
    return user


def change_email(session: Session, user: User, email: str) -> None:
    email = normalise_email(email)
    if len(email) > EMAIL_MAX_LENGTH:
        raise DomainError("the email is too long", code="validation_error", details={"email": ["too long"]})
    user.email = email
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict("a user with this email already exists", code="email_taken") from exc


def change_password(session: Session, user_id: int, expected_hash: str, new_hash: str,
                    keep_session: uuid.UUID) -> tuple[User, list[uuid.UUID]]:
    """Store `new_hash` if the password is still the one verified (`expected_hash`); every other
    session is revoked and every access token refused (the caller issues a new one for `keep_session`).
    Returns (user, the revoked sessions' ids)."""
    user = live_user(session, user_id, lock=True)
    if user.password_hash != expected_hash:
        raise Conflict("the password changed meanwhile; try again", code="password_changed")
    user.password_hash = new_hash
    sessions.bump_token_version(session, user)
    return user, sessions.revoke_all(session, user.id, "password_changed", keep=keep_session)


def rehash_password(session: Session, user_id: int, old_hash: str, new_hash: str) -> None:
    """A login verified the password against `old_hash` (made with older parameters): store the
    new hash, unless the password changed meanwhile."""
    session.execute(update(User).where(User.id == user_id, User.password_hash == old_hash)
                    .values(password_hash=new_hash).execution_options(synchronize_session=False))


def change_staff_fields(session: Session, user_id: int, *, role: Role | None = None,
                        branch_id: int | None | object = _MISSING) -> User:
    """An admin changes a user's role and/or branch: the user's tokens are refused from the commit on."""
    user = live_user(session, user_id, lock=True)
    if role is not None:
        user.role = role
    if branch_id is not _MISSING:
        require_branch(session, branch_id)
        user.branch_id = branch_id
    sessions.bump_token_version(session, user)
    return user


def soft_delete(session: Session, user_id: int) -> tuple[User, list[uuid.UUID]]:
    """The row stays (jobs and the ledger point at it) and keeps its email; its sessions and tokens end."""
    user = live_user(session, user_id, lock=True)
    user.deleted_at = utcnow()
    sessions.bump_token_version(session, user)
    return user, sessions.revoke_all(session, user.id, "user_deleted")


def users_visible_to(viewer: Principal) -> Select:
    """Admins see everyone; a manager sees their own branch's users, never admins; nobody else anything."""
    stmt = select(User)
    if viewer.role == Role.admin:
        return stmt
    if viewer.role == Role.manager and viewer.branch_id is not None:
        return stmt.where(User.branch_id == viewer.branch_id, User.role != Role.admin)
    return stmt.where(False)


def check_may_refund(session: Session, viewer: Principal, transfer_id: int) -> None:
    """A manager refunds only charges of their own branch's users (admins any; a manager without a
    branch nothing). An unknown charge is left to the refund itself, which answers charge_not_found."""
    if viewer.role == Role.admin:
        return
    if viewer.branch_id is None:
        raise DomainError("a manager without a branch may not refund", code="forbidden", status=403)
    if transfer_id > 2**63 - 1:  # past the column's range: no such charge
        return
    payer_branch = session.execute(
        select(User.branch_id).join(Account, Account.owner_id == User.id)
        .join(Transfer, Transfer.debit_account_id == Account.id).where(Transfer.id == transfer_id)).first()
    if payer_branch is None:
        return
    if payer_branch.branch_id != viewer.branch_id:
        raise DomainError("this charge belongs to a user outside your branch", code="forbidden", status=403)
