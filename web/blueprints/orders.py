"""/api/v1/orders: sales agreed before they are paid (web, phone, chat). Placing, confirming and
cancelling are jobs on the `sales` queue; beat expires orders left pending. Staff only; a manager or
seller only in their own branch."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from models import Job, OrderStatus, Role
from schemas.orders import ConfirmOrderSchema, OrderListArgsSchema, OrderPageSchema, OrderSchema, OrderSubmitSchema
from services.sales import orders, pricing, selling
from web.auth import current_principal, require_auth
from web.blueprints.jobs import submission
from web.branch_scope import branches_in_view, require_branch
from web.submit import submit_job
from worker.runtime import get_db, get_settings

blp = Blueprint("orders", __name__, url_prefix="/api/v1", description="Orders: reserved, then confirmed into sales")
STAFF = (Role.admin, Role.manager, Role.seller)


@blp.route("/orders")
class Orders(MethodView):
    @require_auth(*STAFF)
    @blp.arguments(OrderListArgsSchema, location="query")
    @blp.response(200, OrderPageSchema)
    def get(self, args):
        """Orders, newest first: admins any branch's (`branch_id`, all when absent), others their own;
        filtered by `status` and `customer_id`."""
        branches = branches_in_view(args["branch_id"])
        if branches == []:  # staff in no branch
            return {"items": [], "next_cursor": None}
        branch_id = branches[0] if branches else None
        with get_db().read() as session:
            return orders.orders_page(session, branch_id=branch_id, status=args["status"],
                                      customer_id=args["customer_id"], limit=args["limit"], cursor=args["cursor"])

    @require_auth(*STAFF)
    @blp.arguments(OrderSubmitSchema)
    @submission(blp)
    def post(self, data):
        """Place an order: a `sales.place_order` job writes it `pending` and reserves its stock
        (`insufficient_stock` when not available: nothing written). What can be checked without stock
        is checked here. The same (branch, client_order_id) with the same content answers the first
        order's job (200); with other content, 409 `client_order_id_reused`."""
        branch_id = data.pop("branch_id")
        require_branch(branch_id)
        order = orders.normalise(data)
        digest = orders.fingerprint(order)
        with get_db().read() as session:
            existing = orders.find(session, branch_id, order["client_order_id"])
            if existing is not None:
                orders.same_or_conflict(existing, digest)
                job = session.get(Job, existing.job_id)
                return job, 200, {"Location": url_for("jobs.JobById", job_id=job.id)}
            pricing.price_lines(session, branch_id, order,
                                may_discount=current_principal().role in selling.MAY_DISCOUNT)
        return submit_job("sales.place_order", {"branch_id": branch_id, "order": order},
                          idempotency_key=f"order:{branch_id}:{order['client_order_id']}:{digest}")


@blp.route("/orders/<int:order_id>")
class OrderById(MethodView):
    @require_auth(*STAFF)
    @blp.response(200, OrderSchema)
    def get(self, order_id):
        """The order with its lines; once confirmed, its `sale_id`."""
        with get_db().read() as session:
            view = orders.order_view(session, order_id)
        require_branch(view["branch_id"])
        return view


def _pending(order_id: int):
    """The order, if the caller may act on it and it is still pending (409 `order_not_pending`)."""
    with get_db().read() as session:
        order = orders.order_of(session, order_id)
    require_branch(order.branch_id)
    if order.status != OrderStatus.pending:
        raise orders.not_pending(order)
    return order


@blp.route("/orders/<int:order_id>/confirm")
class ConfirmOrder(MethodView):
    @require_auth(*STAFF)
    @blp.arguments(ConfirmOrderSchema)
    @submission(blp)
    def post(self, data, order_id):
        """Confirm an order with its payments: a `sales.confirm_order` job turns its reservation into the
        sale's decrement and records the sale and its invoice; once (`order_not_pending` after). Payments
        that do not add up to the total are refused here."""
        _pending(order_id)
        with get_db().read() as session:
            order = orders.order_of(session, order_id)
            sale = orders.sale_content(session, order, data["payments"])
            pricing.price(session, order.branch_id, sale, may_discount=True,
                          credits_per_unit=get_settings().sales_credits_per_unit)
        return submit_job("sales.confirm_order", {"order_id": order_id, "payments": sale["payments"]})


@blp.route("/orders/<int:order_id>/cancel")
class CancelOrder(MethodView):
    @require_auth(*STAFF)
    @submission(blp)
    def post(self, order_id):
        """Cancel an order: a `sales.cancel_order` job releases its reservation; once."""
        _pending(order_id)
        return submit_job("sales.cancel_order", {"order_id": order_id})
