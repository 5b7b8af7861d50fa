"""/api/v1/customers: the chain's customers and their invoices (staff only: admins, managers, sellers)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from models import Customer, Role
from schemas.common import PageArgsSchema
from schemas.point_of_sale import (CustomerListArgsSchema, CustomerPageSchema, CustomerSchema, CustomerUpdateSchema,
                                   InvoicePageSchema)
from services.sales import customers, invoices
from services.sales.catalogue import get
from web.auth import current_principal, require_auth
from worker.runtime import get_db

blp = Blueprint("customers", __name__, url_prefix="/api/v1", description="Customers")
STAFF = (Role.admin, Role.manager, Role.seller)


@blp.route("/customers")
class Customers(MethodView):
    @require_auth(*STAFF)
    @blp.arguments(CustomerListArgsSchema, location="query")
    @blp.response(200, CustomerPageSchema)
    def get(self, args):
        """Customers, newest first; `q` finds part of the name or email, or the exact tax id or phone."""
        with get_db().read() as session:
            return customers.customers(session, q=args["q"], limit=args["limit"], cursor=args["cursor"])

    @require_auth(*STAFF)
    @blp.arguments(CustomerSchema)
    @blp.response(201, CustomerSchema)
    def post(self, data):
        """A customer; `user_id` links the user account whose credit wallet pays `credits` payments."""
        with get_db().Session.begin() as session:
            return customers.create_customer(session, data)


@blp.route("/customers/<int:customer_id>")
class CustomerById(MethodView):
    @require_auth(*STAFF)
    @blp.response(200, CustomerSchema)
    def get(self, customer_id):
        with get_db().read() as session:
            return get(session, Customer, customer_id)

    @require_auth(*STAFF)
    @blp.arguments(CustomerUpdateSchema)
    @blp.response(200, CustomerSchema)
    def patch(self, changes, customer_id):
        with get_db().Session.begin() as session:
            return customers.update_customer(session, customer_id, changes)


@blp.route("/customers/<int:customer_id>/invoices")
class CustomerInvoices(MethodView):
    @require_auth(*STAFF)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, InvoicePageSchema)
    def get(self, args, customer_id):
        """The invoices and credit notes of the customer's sales, newest first: admins every branch's,
        managers and sellers their own branch's."""
        principal = current_principal()
        branch_id = None if principal.role == Role.admin else principal.branch_id
        if principal.role != Role.admin and branch_id is None:  # staff in no branch see no branch's invoices
            return {"items": [], "next_cursor": None}
        with get_db().read() as session:
            return invoices.customer_invoices(session, customer_id, branch_id=branch_id, limit=args["limit"],
                                              cursor=args["cursor"])
