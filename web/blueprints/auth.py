"""/api/v1/auth: register, log in, refresh, log out, who am I and profile changes."""

from __future__ import annotations

from flask.views import MethodView

from models import User
from schemas.auth import (LoginSchema, OidcSignInSchema, ProfileUpdatedSchema, RefreshSchema, RegisteredSchema,
                          RegisterSchema, TokenSchema, UpdateMeSchema, UserSchema)
from services import accounts, identities, sessions
from services import auth as auth_service
from services import billing
from services.auth import AuthError
from services.sessions import RefreshTokenReused
from web import identity_cache
from web.auth import current_principal, require_auth
from web.limits import login_limit, register_limit
from web.login_guard import login_attempt
from web.offload import off_the_loop
from web.oidc import verifier_for
from web.parsing import Blueprint
from web.signup_bonus import signup_bonus
from web.tokens import access_token, sign_in, token_pair
from worker.runtime import get_db, get_settings

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Users, sessions and access tokens")


@blp.route("/register")
class Register(MethodView):
    @blp.doc(security=[])
    @register_limit
    @blp.arguments(RegisterSchema)
    @blp.response(201, RegisteredSchema)
    def post(self, data):
        """Create a customer account, with its signup bonus while its address has some left today;
        answers with the user and a token pair."""
        password_hash = off_the_loop(auth_service.hash_password, data["password"])
        with signup_bonus() as bonus, get_db().Session.begin() as session:
            user = auth_service.create_user(session, data["email"], password_hash)
            if bonus:
                billing.grant_signup_bonus(session, user.id, get_settings().signup_bonus_credits)
            tokens = sign_in(session, user)
        return {"user": user, "signup_bonus_granted": bonus, **tokens}


@blp.route("/login")
class Login(MethodView):
    @blp.doc(security=[])
    @login_limit
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    def post(self, data):
        """Exchange email and password for a token pair (a new session)."""
        with login_attempt(data["email"]):
            with get_db().read() as session:
                user = auth_service.user_by_email(session, data["email"])
            user = off_the_loop(auth_service.check_password, user, data["password"])
        # Hashed with older parameters: hash again now that we know the password, outside any transaction.
        new_hash = (off_the_loop(auth_service.hash_password, data["password"])
                    if auth_service.needs_rehash(user.password_hash) else None)
        with get_db().Session.begin() as session:
            if new_hash is not None:
                accounts.rehash_password(session, user.id, user.password_hash, new_hash)
            return sign_in(session, user)


@blp.route("/oidc")
class OidcSignIn(MethodView):
    @blp.doc(security=[])
    @login_limit
    @blp.arguments(OidcSignInSchema)
    @blp.response(200, RegisteredSchema)
    def post(self, data):
        """Sign in with an ID token from the configured OpenID Connect provider: its user, linked by
        verified email (or a new customer), and a token pair. 404 when no provider is configured."""
        settings = get_settings()
        identity = verifier_for(settings).verify(data["id_token"])  # may fetch the provider's keys: no transaction open
        with signup_bonus() as bonus, get_db().Session.begin() as session:
            user, created = identities.user_for(session, identity)
            if created and bonus:
                billing.grant_signup_bonus(session, user.id, settings.signup_bonus_credits)
            tokens = sign_in(session, user)
        return {"user": user, **tokens}


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.doc(security=[])
    @login_limit
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenSchema)
    def post(self, data):
        """Exchange a refresh token for a new pair; the old refresh token is spent. Presenting a spent
        one again revokes its whole session (someone kept a copy)."""
        reused = None
        with get_db().Session.begin() as session:
            try:
                login_session, refresh_token = sessions.rotate(session, data["refresh_token"],
                                                               get_settings().refresh_token_days)
                user = session.get(User, login_session.user_id)
                return token_pair(user, login_session, refresh_token)
            except RefreshTokenReused as exc:
                reused = exc  # the revocation commits; the answer is still a 401
        identity_cache.sessions_revoked([reused.session_id])
        raise reused


@blp.route("/logout")
class Logout(MethodView):
    @require_auth(session_only=True)
    @blp.response(204)
    def post(self):
        """End this session: its refresh token and access tokens are refused from now on."""
        with get_db().Session.begin() as session:
            sessions.revoke(session, current_principal().session_id, "logout")
        identity_cache.sessions_revoked([current_principal().session_id])


@blp.route("/logout-all")
class LogoutEverywhere(MethodView):
    @require_auth(session_only=True)
    @blp.response(204)
    def post(self):
        """End every session of yours, this one included."""
        with get_db().Session.begin() as session:
            user = accounts.live_user(session, current_principal().user_id, lock=True)
            sessions.bump_token_version(session, user)
            revoked = sessions.revoke_all(session, user.id, "logout_all")
        identity_cache.user_changed(user)
        identity_cache.sessions_revoked(revoked)


@blp.route("/me")
class Me(MethodView):
    @require_auth()
    @blp.response(200, UserSchema)
    def get(self):
        """The user the token belongs to."""
        with get_db().read() as session:
            return _me(session)

    @require_auth(session_only=True)
    @blp.arguments(UpdateMeSchema)
    @blp.response(200, ProfileUpdatedSchema)
    def patch(self, data):
        """Change your email and/or password (with `current_password`). A password change ends every
        other session and refuses every earlier access token: the answer carries a new one for this session."""
        principal = current_principal()
        new_hash = None
        if "password" in data:
            with get_db().read() as session:
                user = _me(session)
            off_the_loop(_check_current_password, user, data["current_password"])
            new_hash = off_the_loop(auth_service.hash_password, data["password"])
        with get_db().Session.begin() as session:
            revoked = []
            if new_hash is not None:
                user, revoked = accounts.change_password(session, principal.user_id, user.password_hash, new_hash,
                                                         keep_session=principal.session_id)
            else:
                user = accounts.live_user(session, principal.user_id, lock=True)
            if "email" in data:
                accounts.change_email(session, user, data["email"])
        if new_hash is None:
            return user
        identity_cache.user_changed(user)
        identity_cache.sessions_revoked(revoked)
        profile = {name: getattr(user, name) for name in UserSchema().fields}
        return {**profile, **access_token(user, principal.session_id)}


def _me(session) -> User:
    user = session.get(User, current_principal().user_id)
    if user is None:
        raise AuthError("the token's user no longer exists", code="token_revoked")
    return user


def _check_current_password(user: User, password: str) -> None:
    try:
        auth_service.check_password(user, password)
    except AuthError as exc:
        raise AuthError("the current password is wrong", code="invalid_current_password", status=403) from exc
