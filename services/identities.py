"""Users known by an external OpenID Connect provider: linked by (issuer, subject), found or made by verified email."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import ExternalIdentity, User
from services import auth as auth_service
from services.auth import EMAIL_MAX_LENGTH, AuthError, normalise_email
from services.errors import DomainError

# Never an argon2 hash, so no password matches it: such a user signs in through their provider only.
NO_PASSWORD = "!external-identity"


@dataclass(frozen=True)
class VerifiedIdentity:
    """The claims of an ID token whose signature, issuer, audience and expiry were checked."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool


def user_for(session: Session, identity: VerifiedIdentity) -> tuple[User, bool]:
    """(the user this identity signs in as, whether the user was created now).

    Known (issuer, subject): its user. Otherwise linked to the user with the same email, or a new
    customer; either only when the provider says it verified the email."""
    linked = session.scalar(select(User).join(ExternalIdentity, ExternalIdentity.user_id == User.id).where(
        ExternalIdentity.issuer == identity.issuer, ExternalIdentity.subject == identity.subject))
    if linked is None:
        linked, created = _link(session, identity)
    else:
        created = False
    if linked.deleted_at is not None:
        raise DomainError("this account was deleted", code="account_deleted", status=403)
    return linked, created


def _link(session: Session, identity: VerifiedIdentity) -> tuple[User, bool]:
    if not identity.email or identity.email_verified is not True:
        raise AuthError("the provider has not verified this identity's email", code="email_not_verified")
    email = normalise_email(identity.email)
    if len(email) > EMAIL_MAX_LENGTH:
        raise DomainError("the identity's email is too long", code="validation_error")
    user = auth_service.user_by_email(session, email)
    created = user is None
    if created:
        user = auth_service.create_user(session, email, NO_PASSWORD)
    try:
        with session.begin_nested():
            session.add(ExternalIdentity(issuer=identity.issuer, subject=identity.subject, user_id=user.id))
    except IntegrityError as exc:  # a concurrent first sign-in of the same identity linked it first
        raise DomainError("this identity is being linked; try again", code="conflict", status=409) from exc
    return user, created
