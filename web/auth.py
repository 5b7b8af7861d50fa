"""Bearer-token authentication and role checks for endpoints: the token, then its user and session as they are now."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from models import Role
from services.auth import AuthError, Principal, TokenClaims, verify_token
from services.errors import DomainError
from web import identity_cache
from worker.runtime import get_settings


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


def require_auth(*roles: Role):
    """The endpoint needs a valid bearer token, and when roles are given, one of those roles."""

    def decorate(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("a bearer access token is required", code="missing_token")
            g.principal = principal_of(verify_token(token.strip(), get_settings().secret_key))
            if roles and g.principal.role not in roles:
                raise Forbidden("your role may not do this", details={"allowed": [r.value for r in roles]})
            return fn(*args, **kwargs)

        return wrapper

    return decorate
