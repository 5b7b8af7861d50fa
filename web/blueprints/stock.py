"""Per-branch stock: read it, adjust it, transfer it between branches (jobs on the `sales` queue), reconcile it."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from models import Role
from schemas.sales import (MovementPageSchema, StockAdjustmentSchema, StockListArgsSchema, StockPageSchema,
                           StockTransferSchema)
from services import sales
from web.auth import require_auth
from web.blueprints.jobs import submission
from web.branch_scope import require_branch
from web.submit import submit_job
from worker.runtime import get_db

blp = Blueprint("stock", __name__, url_prefix="/api/v1", description="Stock per branch, adjustments and transfers")
WRITERS = (Role.admin, Role.manager)


@blp.route("/branches/<int:branch_id>/stock")
class BranchStock(MethodView):
    @require_auth()
    @blp.arguments(StockListArgsSchema, location="query")
    @blp.response(200, StockPageSchema)
    def get(self, args, branch_id):
        """The branch's stock rows (one per product and size), newest first; `product_id` filters."""
        with get_db().read() as session:
            return sales.stock_of(session, branch_id, product_id=args["product_id"], limit=args["limit"],
                                  cursor=args["cursor"])


@blp.route("/branches/<int:branch_id>/stock/movements")
class BranchMovements(MethodView):
    @require_auth(Role.admin, Role.manager)
    @blp.arguments(StockListArgsSchema, location="query")
    @blp.response(200, MovementPageSchema)
    def get(self, args, branch_id):
        """The branch's inventory movements (append-only), newest first; `product_id` filters.
        A manager only their own branch's."""
        require_branch(branch_id)
        with get_db().read() as session:
            return sales.movements_of(session, branch_id, product_id=args["product_id"], limit=args["limit"],
                                      cursor=args["cursor"])


@blp.route("/branches/<int:branch_id>/stock/adjustments")
class Adjustments(MethodView):
    @require_auth(*WRITERS)
    @blp.arguments(StockAdjustmentSchema)
    @submission(blp)
    def post(self, data, branch_id):
        """Add (positive) or take (negative) stock in a branch, with a reason: a `sales.stock_adjustment`
        job; all lines or none (`insufficient_stock`). A manager only in their own branch."""
        require_branch(branch_id)
        with get_db().read() as session:
            sales.check_lines(session, [branch_id], data["items"])
        return submit_job("sales.stock_adjustment", {"branch_id": branch_id, **data})


@blp.route("/stock/transfers")
class Transfers(MethodView):
    @require_auth(*WRITERS)
    @blp.arguments(StockTransferSchema)
    @submission(blp)
    def post(self, data):
        """Move stock out of one branch and into another: a `sales.stock_transfer` job, all or nothing.
        A manager only out of their own branch."""
        require_branch(data["from_branch_id"])
        with get_db().read() as session:
            sales.check_lines(session, [data["from_branch_id"], data["to_branch_id"]], data["items"])
        return submit_job("sales.stock_transfer", data)


@blp.route("/admin/stock/reconcile")
class Reconcile(MethodView):
    @require_auth(Role.admin)
    @submission(blp)
    def post(self):
        """Check that every stock row equals the sum of its movements; the job's result lists each mismatch."""
        return submit_job("sales.reconcile_stock", {})
