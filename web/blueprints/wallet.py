"""/api/v1/wallet: a user's credits, their history, and charges."""

from __future__ import annotations

from flask.views import MethodView

from schemas.billing import ChargeSchema, TransferListArgsSchema, TransferPageSchema, WalletSchema
from services import billing
from web.auth import current_principal, require_auth
from web.blueprints.jobs import submission
from worker.runtime import get_db
from web.parsing import Blueprint
from web.submit import submit_job

blp = Blueprint("wallet", __name__, url_prefix="/api/v1/wallet", description="Your credit wallet")


@blp.route("")
class Wallet(MethodView):
    @require_auth()
    @blp.response(200, WalletSchema)
    def get(self):
        """Balance, what holds reserve, and what is available, in credits."""
        with get_db().read() as session:
            return billing.wallet(session, current_principal().user_id)


@blp.route("/transactions")
class Transactions(MethodView):
    @require_auth()
    @blp.arguments(TransferListArgsSchema, location="query")
    @blp.response(200, TransferPageSchema)
    def get(self, args):
        """Your transfers, newest first, optionally of one kind."""
        with get_db().read() as session:
            items, next_cursor = billing.transfers_of(session, current_principal().user_id, kind=args["kind"],
                                                      limit=args["limit"], cursor=args["cursor"])
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/charges")
class Charges(MethodView):
    @require_auth()
    @blp.arguments(ChargeSchema)
    @submission(blp)
    def post(self, data):
        """Spend credits (granted first); the job fails with insufficient_funds if the wallet is short."""
        return submit_job("billing.charge", data)
