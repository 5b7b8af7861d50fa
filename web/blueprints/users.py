"""/api/v1/users: accounts, managed by admins; managers see their own branch."""

from __future__ import annotations

from flask.views import MethodView

from models import Role, User
from schemas.auth import CreateUserSchema, UpdateUserSchema, UserSchema
from schemas.common import PageArgsSchema, page_schema
from services import accounts
from services import auth as auth_service
from services.errors import NotFound
from services.pagination import page
from web import identity_cache
from web.auth import current_principal, require_auth
from web.offload import off_the_loop
from web.parsing import Blueprint
from worker.runtime import get_db

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Accounts (admins and managers)")


@blp.route("")
class Users(MethodView):
    @require_auth(Role.admin, Role.manager)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(UserSchema, "UserPage"))
    def get(self, args):
        """Users, newest first: all of them for admins; a manager's own branch (admins excluded) for managers."""
        with get_db().read() as session:
            items, next_cursor = page(session, accounts.users_visible_to(current_principal()), User, args["limit"],
                                      args["cursor"])
        return {"items": items, "next_cursor": next_cursor}

    @require_auth(Role.admin)
    @blp.arguments(CreateUserSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Create a user with any role (admins only)."""
        password_hash = off_the_loop(auth_service.hash_password, data["password"])
        with get_db().Session.begin() as session:
            return auth_service.create_user(session, data["email"], password_hash, data["role"], data["branch_id"])


@blp.route("/<int:user_id>")
class UserById(MethodView):
    @require_auth(Role.admin)
    @blp.arguments(UpdateUserSchema)
    @blp.response(200, UserSchema)
    def patch(self, data, user_id):
        """Change a user's role and/or branch (admins): the user's tokens are refused at once (they refresh)."""
        with get_db().Session.begin() as session:
            user = accounts.change_staff_fields(session, _column_id(user_id), **data)
        identity_cache.user_changed(user)
        return user

    @require_auth(Role.admin)
    @blp.response(204)
    def delete(self, user_id):
        """Delete a user (admins): their sessions end and their tokens are refused at once. The account
        stays (jobs and the ledger point at it) and keeps its email, which cannot register again."""
        with get_db().Session.begin() as session:
            user, revoked = accounts.soft_delete(session, _column_id(user_id))
        identity_cache.user_changed(user)
        identity_cache.sessions_revoked(revoked)


def _column_id(user_id: int) -> int:
    """An id past the column's range names nobody (and must not reach the database as one)."""
    if user_id > 2**31 - 1:
        raise NotFound("no such user", code="unknown_user")
    return user_id
