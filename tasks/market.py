"""Market jobs (queue `billing`): what a payment provider's events do to a purchase, each once."""

from __future__ import annotations

from decimal import Decimal

from models.base import utcnow
from services.market import purchases, refunds
from tasks.base import job_task
from tasks.context import JobContext


@job_task("market.complete_purchase")
def complete_purchase(job: JobContext, payload: dict) -> dict:
    return purchases.complete_purchase(job.session, payload["purchase_id"], event_id=payload["event_id"],
                                       amount=Decimal(payload["amount"]), currency=payload["currency"],
                                       now=utcnow(), job_id=job.job_id)


@job_task("market.fail_purchase")
def fail_purchase(job: JobContext, payload: dict) -> dict:
    return purchases.fail_purchase(job.session, payload["purchase_id"], event_id=payload["event_id"], now=utcnow())


@job_task("market.refund_purchase")
def refund_purchase(job: JobContext, payload: dict) -> dict:
    return refunds.refund_purchase(job.session, payload["purchase_id"], event_id=payload["event_id"], now=utcnow(),
                                   job_id=job.job_id)
