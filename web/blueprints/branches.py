"""/api/v1/branches: the shop chain's branches (admins create; a branch's manager may change it)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from models import Branch, Role
from schemas.sales import ActiveFilterSchema, BranchPageSchema, BranchSchema, BranchUpdateSchema
from services import sales
from web.auth import require_auth
from web.branch_scope import require_branch
from worker.runtime import get_db

blp = Blueprint("branches", __name__, url_prefix="/api/v1/branches", description="Branches of the shop chain")


@blp.route("")
class Branches(MethodView):
    @require_auth()
    @blp.arguments(ActiveFilterSchema, location="query")
    @blp.response(200, BranchPageSchema)
    def get(self, args):
        """All branches, newest first; `active` filters."""
        with get_db().read() as session:
            return sales.branches(session, active=args["active"], limit=args["limit"], cursor=args["cursor"])

    @require_auth(Role.admin)
    @blp.arguments(BranchSchema)
    @blp.response(201, BranchSchema)
    @blp.alt_response(409, description="branch_code_taken")
    def post(self, data):
        """Open a branch (admins). Its code is unique; its time zone an IANA name (default UTC)."""
        with get_db().Session.begin() as session:
            return sales.create_branch(session, data)


@blp.route("/<int:branch_id>")
class BranchById(MethodView):
    @require_auth()
    @blp.response(200, BranchSchema)
    def get(self, branch_id):
        with get_db().read() as session:
            return sales.get(session, Branch, branch_id)

    @require_auth(Role.admin, Role.manager)
    @blp.arguments(BranchUpdateSchema)
    @blp.response(200, BranchSchema)
    @blp.alt_response(409, description="branch_code_taken")
    def patch(self, changes, branch_id):
        """Change a branch (admins; a manager only their own); `active: false` closes it."""
        require_branch(branch_id)
        with get_db().Session.begin() as session:
            return sales.update_branch(session, branch_id, changes)
