"""Bearer-token authentication and role checks for endpoints."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from models import Role
from services.auth import AuthError, Principal, verify_token
from services.errors import DomainError
from worker.runtime import get_settings


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


def current_principal() -> Principal:
    return g.principal


def require_auth(*roles: Role):
    """The endpoint needs a valid bearer token, and when roles are given, one of those roles."""

    def decorate(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("a bearer access token is required", code="missing_token")
            g.principal = verify_token(token.strip(), get_settings().secret_key)
            if roles and g.principal.role not in roles:
                raise Forbidden("your role may not do this", details={"allowed": [r.value for r in roles]})
            return fn(*args, **kwargs)

        return wrapper

    return decorate
