"""/api/v1/admin: wallet adjustments, refunds and reconciliation, for staff."""

from __future__ import annotations

from flask.views import MethodView

from models import Role
from schemas.billing import AdjustmentSchema, RefundSchema
from services import accounts, billing
from web.auth import current_principal, require_auth
from web.blueprints.jobs import submission
from web.parsing import Blueprint
from web.submit import submit_job
from worker.runtime import get_db

blp = Blueprint("billing_admin", __name__, url_prefix="/api/v1/admin", description="Billing administration")


@blp.route("/wallets/<int:user_id>/adjustments")
class Adjustments(MethodView):
    @require_auth(Role.admin)
    @blp.arguments(AdjustmentSchema)
    @submission(blp)
    def post(self, data, user_id):
        """Add (positive) or take (negative) credits, with a reason (admins)."""
        with get_db().read() as session:
            billing.require_user(session, user_id)
        return submit_job("billing.adjustment", {"user_id": user_id, **data})


@blp.route("/refunds")
class Refunds(MethodView):
    @require_auth(Role.admin, Role.manager)
    @blp.arguments(RefundSchema)
    @submission(blp)
    def post(self, data):
        """Return part or all of a charge transfer to the account it came from (managers: only
        charges of their own branch's users)."""
        principal = current_principal()
        with get_db().read() as session:
            accounts.check_may_refund(session, principal, data["transfer_id"])
        if principal.role == Role.manager:
            data = {**data, "branch_id": principal.branch_id}  # checked again inside the job
        return submit_job("billing.refund", data)


@blp.route("/billing/reconcile")
class Reconcile(MethodView):
    @require_auth(Role.admin)
    @submission(blp)
    def post(self):
        """Check every ledger invariant now; the job's result lists each mismatch."""
        return submit_job("billing.reconcile", {})
