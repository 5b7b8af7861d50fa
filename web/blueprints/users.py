"""/api/v1/users: staff accounts, managed by admins."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select

from models import Role, User
from schemas.auth import CreateUserSchema, UserSchema
from schemas.common import PageArgsSchema, page_schema
from services import auth as auth_service
from services.pagination import page
from web.auth import require_auth
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
        """All users, newest first."""
        with get_db().read() as session:
            items, next_cursor = page(session, select(User), User, args["limit"], args["cursor"])
        return {"items": items, "next_cursor": next_cursor}

    @require_auth(Role.admin)
    @blp.arguments(CreateUserSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Create a user with any role (admins only)."""
        password_hash = off_the_loop(auth_service.hash_password, data["password"])
        with get_db().Session.begin() as session:
            return auth_service.create_user(session, data["email"], password_hash, data["role"], data["branch_id"])
