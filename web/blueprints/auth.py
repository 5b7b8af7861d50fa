"""/api/v1/auth: register, log in, who am I."""

from __future__ import annotations

from flask.views import MethodView

from models import User
from schemas.auth import LoginSchema, RegisteredSchema, RegisterSchema, TokenSchema, UserSchema
from services import auth as auth_service
from services import billing
from services.auth import AuthError
from web.auth import current_principal, require_auth
from web.offload import off_the_loop
from web.parsing import Blueprint
from worker.runtime import get_db, get_settings

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Users and access tokens")


def token_for(user: User) -> dict:
    settings = get_settings()
    return {"access_token": auth_service.issue_token(user, settings.secret_key, settings.jwt_lifetime_seconds),
            "token_type": "Bearer", "expires_in": settings.jwt_lifetime_seconds}


@blp.route("/register")
class Register(MethodView):
    @blp.doc(security=[])
    @blp.arguments(RegisterSchema)
    @blp.response(201, RegisteredSchema)
    def post(self, data):
        """Create a customer account with its signup bonus; answers with the user and an access token."""
        password_hash = off_the_loop(auth_service.hash_password, data["password"])
        with get_db().Session.begin() as session:
            user = auth_service.create_user(session, data["email"], password_hash)
            billing.grant_signup_bonus(session, user.id, get_settings().signup_bonus_credits)
        return {"user": user, **token_for(user)}


@blp.route("/login")
class Login(MethodView):
    @blp.doc(security=[])
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    def post(self, data):
        """Exchange email and password for an access token."""
        with get_db().read() as session:
            user = auth_service.user_by_email(session, data["email"])
        return token_for(off_the_loop(auth_service.check_password, user, data["password"]))


@blp.route("/me")
class Me(MethodView):
    @require_auth()
    @blp.response(200, UserSchema)
    def get(self):
        """The user the token belongs to."""
        with get_db().read() as session:
            user = session.get(User, current_principal().user_id)
        if user is None:
            raise AuthError("the token's user no longer exists", code="invalid_token")
        return user
