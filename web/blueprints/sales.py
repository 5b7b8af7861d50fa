"""/api/v1/sales and /api/v1/invoices: sales at the till and offline batches (jobs on the `sales` queue),
cancellations, and the invoices they issue. Staff only; a manager or seller only in their own branch."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from models import Invoice, Job, Role, SaleStatus
from schemas.point_of_sale import (CancelSchema, InvoiceSchema, SaleBatchSchema, SaleListArgsSchema, SalePageSchema,
                                   SaleSchema, SaleSubmitSchema)
from services.sales import invoices, pricing, selling
from web.auth import current_principal, require_auth
from web.blueprints.jobs import submission
from web.branch_scope import branches_in_view, require_branch
from web.submit import submit_job
from worker.runtime import get_db, get_settings

blp = Blueprint("sales", __name__, url_prefix="/api/v1", description="Sales, offline batches and invoices")
STAFF = (Role.admin, Role.manager, Role.seller)


@blp.route("/sales")
class Sales(MethodView):
    @require_auth(*STAFF)
    @blp.arguments(SaleListArgsSchema, location="query")
    @blp.response(200, SalePageSchema)
    def get(self, args):
        """Sales, newest first: admins any branch's (`branch_id`, all when absent), others their own;
        `customer_id` gives a customer's."""
        branches = branches_in_view(args["branch_id"])
        if branches == []:  # staff in no branch
            return {"items": [], "next_cursor": None}
        branch_id = branches[0] if branches else None
        with get_db().read() as session:
            return selling.sales_page(session, branch_id=branch_id, customer_id=args["customer_id"],
                                      limit=args["limit"], cursor=args["cursor"])

    @require_auth(*STAFF)
    @blp.arguments(SaleSubmitSchema)
    @submission(blp)
    def post(self, data):
        """Record a sale: a `sales.sale` job writes it, its stock decrements, payments and invoice in one
        transaction. What can be checked without stock is checked here (nothing written): unknown
        products, sizes, prices below the catalogue's (sellers), payments that do not add up. The same
        (branch, terminal, client_sale_id) with the same content answers the first sale's job (200);
        with other content, 409 `client_sale_id_reused`."""
        branch_id, terminal_id = data.pop("branch_id"), data.pop("terminal_id")
        require_branch(branch_id)
        sale = pricing.normalise(data)
        digest = pricing.fingerprint(sale)
        with get_db().read() as session:
            existing = selling.find(session, branch_id, terminal_id, sale["client_sale_id"])
            if existing is not None:
                selling.same_or_conflict(session, existing, digest)
                return _recorded_by(session, existing.job_id)
            pricing.price(session, branch_id, sale, may_discount=current_principal().role in selling.MAY_DISCOUNT,
                          credits_per_unit=get_settings().sales_credits_per_unit)
        return submit_job("sales.sale", {"branch_id": branch_id, "terminal_id": terminal_id, "sale": sale},
                          idempotency_key=f"sale:{branch_id}:{terminal_id}:{sale['client_sale_id']}:{digest}")


def _recorded_by(session, job_id):
    """The job that recorded an existing sale, answered as a finished submission (200)."""
    job = session.get(Job, job_id)
    return job, 200, {"Location": url_for("jobs.JobById", job_id=job.id)}


@blp.route("/sales/batches")
class SaleBatches(MethodView):
    @require_auth(*STAFF)
    @blp.arguments(SaleBatchSchema)
    @submission(blp)
    def post(self, data):
        """An offline terminal's sales (up to 1,000): one `sales.sale_batch` job; each sale is applied on
        its own and gets an outcome (`applied`, `duplicate`, `conflict`, `rejected` with its reason),
        all listed in the job's result; progress counts sales done. Replaying a batch changes nothing."""
        require_branch(data["branch_id"])
        return submit_job("sales.sale_batch", {"branch_id": data["branch_id"], "terminal_id": data["terminal_id"],
                                               "sales": [pricing.normalise(s) for s in data["sales"]]})


@blp.route("/sales/<int:sale_id>")
class SaleById(MethodView):
    @require_auth(*STAFF)
    @blp.response(200, SaleSchema)
    def get(self, sale_id):
        """The sale, its lines and payments, its invoice id (and credit note id once cancelled)."""
        with get_db().read() as session:
            view = selling.sale_view(session, sale_id)
        require_branch(view["branch_id"])
        return view


@blp.route("/sales/<int:sale_id>/cancel")
class CancelSale(MethodView):
    @require_auth(Role.admin, Role.manager)
    @blp.arguments(CancelSchema)
    @submission(blp)
    def post(self, data, sale_id):
        """Cancel a sale: a `sales.cancel_sale` job returns its stock, refunds a credits payment and
        issues a credit note; once (`sale_already_cancelled` after). A manager only in their own branch."""
        with get_db().read() as session:
            sale = selling.sale_of(session, sale_id)
        require_branch(sale.branch_id)
        if sale.status == SaleStatus.cancelled:
            raise selling.already_cancelled(sale_id)
        return submit_job("sales.cancel_sale", {"sale_id": sale_id, "reason": data["reason"]})


@blp.route("/invoices/<int:invoice_id>")
class InvoiceById(MethodView):
    @require_auth(*STAFF)
    @blp.response(200, InvoiceSchema)
    def get(self, invoice_id):
        """An invoice or a credit note as issued: seller and customer, lines, tax by rate, totals, payments."""
        with get_db().read() as session:
            invoice: Invoice = invoices.invoice_of(session, invoice_id)
        require_branch(invoice.branch_id)
        return invoice
