"""Bearer authentication and role checks for endpoints: an access token (its user and session as they
are now) or a user's API key (`ck_...`: its user as they are now, until the key is revoked)."""

from __future__ import annotations

import logging
from functools import wraps

from flask import after_this_request, g, request
from sqlalchemy.exc import SQLAlchemyError

from models import Role
from services import api_keys
from services.auth import AuthError, Principal, TokenClaims, verify_token
from services.errors import DomainError
from web import identity_cache
from worker.runtime import get_db, get_settings

log = logging.getLogger(__name__)


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


def current_principal() -> Principal:
    return g.principal


def principal_of(claims: TokenClaims) -> Principal:
    """Refuses a token whose user is gone or deleted, whose session was revoked, or that was issued
    before the user's rights changed (role, branch, password, deletion, logout everywhere)."""
    state, session_live = identity_cache.lookup(claims.user_id, claims.session_id)
    if state is None or state.deleted:
        raise AuthError("the token's user no longer exists", code="token_revoked")
    if not session_live:
        raise AuthError("the token's session has ended; sign in again", code="token_revoked")
    if state.token_version != claims.version or state.role != claims.role:
        raise AuthError("the token was revoked; refresh it or sign in again", code="token_revoked")
    return Principal(claims.user_id, state.role, claims.session_id, state.branch_id)


def principal_of_api_key(key: str) -> Principal:
    """Refuses a key that is malformed, unknown or revoked, or whose user is gone or deleted. A key
    outlives its user's password changes and sign-outs: only revocation or deletion ends it."""
    if not api_keys.KEY_SHAPE.fullmatch(key):
        raise AuthError("the API key is not valid", code="invalid_api_key")
    ref, state, first_use = identity_cache.lookup_api_key(api_keys.digest(key))
    if ref is None:
        raise AuthError("the API key is not valid", code="invalid_api_key")
    if ref.revoked or state is None or state.deleted:
        raise AuthError("the API key was revoked", code="api_key_revoked")
    if first_use:
        _record_use_after_response(ref.key_id)
    return Principal(ref.user_id, state.role, None, state.branch_id, api_key_id=ref.key_id)


def _record_use_after_response(key_id: int) -> None:
    """The key's `last_used_at`, written once the answer has gone (at most once a minute per key)."""
    db = get_db()  # the answer closes outside the app's context

    def record() -> None:
        try:
            with db.Session.begin() as session:
                api_keys.touch(session, key_id)
        except SQLAlchemyError:  # a missed "last used" is not worth a failure anywhere
            log.warning("could not record the use of API key %s", key_id, exc_info=True)

    @after_this_request
    def _after(response):
        response.call_on_close(record)
        return response


def principal_of_bearer(token: str) -> Principal:
    """Who the bearer credential (an access token or an API key) speaks for; AuthError if nobody."""
    if api_keys.looks_like_key(token):
        return principal_of_api_key(token)
    return principal_of(verify_token(token, get_settings().secret_key))


def require_auth(*roles: Role, session_only: bool = False):
    """The endpoint needs a valid access token or API key, and when roles are given, one of those
    roles. `session_only`: an API key may not use it (managing keys, the password, sessions)."""

    def decorate(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise AuthError("a bearer access token is required", code="missing_token")
            g.principal = principal_of_bearer(token)
            if session_only and g.principal.api_key_id is not None:
                raise Forbidden("an API key may not do this; sign in", code="session_required")
            if roles and g.principal.role not in roles:
                raise Forbidden("your role may not do this", details={"allowed": [r.value for r in roles]})
            return fn(*args, **kwargs)

        return wrapper

    return decorate
