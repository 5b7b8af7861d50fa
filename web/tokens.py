"""The token pair every sign-in answers with: a short access token and its session's refresh token."""

from __future__ import annotations

from sqlalchemy.orm import Session

from models import LoginSession, User
from services import auth as auth_service
from services import sessions
from worker.runtime import get_settings


def access_token(user: User, session_id) -> dict:
    settings = get_settings()
    token = auth_service.issue_token(user, settings.secret_key, settings.jwt_lifetime_seconds, session_id=session_id)
    return {"access_token": token, "token_type": "Bearer", "expires_in": settings.jwt_lifetime_seconds}


def token_pair(user: User, login_session: LoginSession, refresh_token: str) -> dict:
    return {**access_token(user, login_session.id), "refresh_token": refresh_token,
            "refresh_expires_in": get_settings().refresh_token_days * 86400}


def sign_in(session: Session, user: User) -> dict:
    """A new session for `user`, in the caller's transaction; the token pair (valid once it commits)."""
    login_session, refresh_token = sessions.start(session, user.id, get_settings().refresh_token_days)
    return token_pair(user, login_session, refresh_token)
