"""Sales jobs (queue `sales`): stock adjustments, transfers, reconciliation; sales, offline batches, cancellations;
orders (placed, confirmed, cancelled, expired).

Each writes through `job.session`, so its stock changes and movements commit with the job's final
status: a redelivered or retried job finds itself finished, and nothing is applied twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from services import sales
from models.base import utcnow
from services.sales import batches, orders, selling
from tasks.base import job_task
from tasks.context import JobContext

log = logging.getLogger(__name__)
MAX_LISTED = 1000  # a result lists this many mismatches at most (the count has them all)


@job_task("sales.stock_adjustment")
def stock_adjustment(job: JobContext, payload: dict) -> dict:
    return sales.adjust(job.session, payload["branch_id"], payload["items"], reason=payload["reason"],
                        reference=f"adjustment:{job.job_id}", user_id=job.owner_id)


@job_task("sales.stock_transfer")
def stock_transfer(job: JobContext, payload: dict) -> dict:
    return sales.transfer(job.session, payload["from_branch_id"], payload["to_branch_id"], payload["items"],
                          reference=f"transfer:{job.job_id}", user_id=job.owner_id, note=payload.get("note"))


@job_task("sales.reconcile_stock")
def reconcile_stock(job: JobContext, payload: dict) -> dict:
    """Check that every stock row equals the sum of its movements (admins on demand, beat nightly)."""
    with job.db.read(snapshot=True) as session:
        mismatches = sales.reconcile_stock(session)
    if mismatches:
        log.error("stock reconciliation found %d mismatches", len(mismatches), extra={"mismatches": mismatches})
    return {"ok": not mismatches, "count": len(mismatches), "mismatches": mismatches[:MAX_LISTED]}


@job_task("sales.sale")
def sale(job: JobContext, payload: dict) -> dict:
    """Record one sale (services/sales/selling.py) with the job's final status; a sale already
    recorded with the same content answers `duplicate`."""
    return selling.record(job.session, payload["branch_id"], payload["terminal_id"], payload["sale"],
                          seller_id=job.owner_id, job_id=job.job_id,
                          credits_per_unit=job.runtime.settings.sales_credits_per_unit)


@job_task("sales.sale_batch")
def sale_batch(job: JobContext, payload: dict) -> dict:
    """An offline terminal's sales, each on its own; a step commits a few of them together with the
    outcomes so far (the checkpoint), so a crash resumes after the last committed step and no sale is
    applied twice."""
    sales_, settings = payload["sales"], job.runtime.settings
    state = job.checkpoint or {"next": 0, "outcomes": []}
    outcomes, start = list(state["outcomes"]), state["next"]
    while start < len(sales_):
        end = min(start + settings.sales_batch_step, len(sales_))
        # The step commits its checkpoint after its body: the outcomes it holds are this step's too.
        with job.step({"next": end, "outcomes": outcomes}, done=end, total=len(sales_)) as session:
            outcomes.extend([batches.apply_one(session, payload["branch_id"], payload["terminal_id"], index,
                                           sales_[index], seller_id=job.owner_id, job_id=job.job_id,
                                           credits_per_unit=settings.sales_credits_per_unit)
                             for index in range(start, end)])
        start = end
    return batches.summary(outcomes)


@job_task("sales.cancel_sale")
def cancel_sale(job: JobContext, payload: dict) -> dict:
    """Cancel a sale once: stock back, credits refunded, a credit note."""
    return selling.cancel(job.session, payload["sale_id"], payload["reason"], user_id=job.owner_id,
                          job_id=job.job_id)


@job_task("sales.place_order")
def place_order(job: JobContext, payload: dict) -> dict:
    """Place an order once as `pending`, reserving its stock (services/sales/orders.py)."""
    return orders.place(job.session, payload["branch_id"], payload["order"], user_id=job.owner_id,
                        job_id=job.job_id)


@job_task("sales.confirm_order")
def confirm_order(job: JobContext, payload: dict) -> dict:
    """Turn a pending order into a sale with its payments and invoice; once (`order_not_pending` after)."""
    return orders.confirm(job.session, payload["order_id"], payload["payments"], job_id=job.job_id,
                          credits_per_unit=job.runtime.settings.sales_credits_per_unit)


@job_task("sales.cancel_order")
def cancel_order(job: JobContext, payload: dict) -> dict:
    """Release a pending order's reservation; once."""
    return orders.cancel(job.session, payload["order_id"], user_id=job.owner_id)


@job_task("sales.expire_orders")
def expire_orders(job: JobContext, payload: dict) -> dict:
    """Expire orders pending longer than ORDER_RESERVATION_MINUTES (beat, every minute), releasing their stock."""
    cutoff = utcnow() - timedelta(minutes=job.runtime.settings.order_reservation_minutes)
    expired = orders.expire(job.session, older_than=cutoff)
    return {"expired": len(expired), "order_ids": expired}
