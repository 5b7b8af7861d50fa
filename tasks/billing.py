"""Billing jobs (queue `billing`): charges, top-ups, adjustments, refunds, reconciliation; beat's hold expiry."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task

from services import billing
from services.errors import DomainError
from services.metrics import record_reconciliation
from tasks.base import AppContextTask, JobContext, job_task
from web.runtime import get_db

log = logging.getLogger(__name__)


@job_task("billing.charge", queue="billing")
def charge(job: JobContext, payload: dict) -> dict:
    return billing.charge(job.session, job.owner_id, payload["amount"], key=f"charge:{job.job_id}",
                          job_id=job.job_id, description=payload.get("description"),
                          reference=payload.get("reference"))


@job_task("billing.topup", queue="billing")
def top_up(job: JobContext, payload: dict) -> dict:
    return billing.top_up(job.session, payload["user_id"], payload["amount"], event_id=payload["event_id"],
                          job_id=job.job_id)


@job_task("billing.adjustment", queue="billing")
def adjust(job: JobContext, payload: dict) -> dict:
    return billing.adjust(job.session, payload["user_id"], payload["amount"], reason=payload["reason"],
                          key=f"adjustment:{job.job_id}", job_id=job.job_id)


@job_task("billing.refund", queue="billing")
def refund(job: JobContext, payload: dict) -> dict:
    return billing.refund(job.session, payload["transfer_id"], payload["amount"], key=f"refund:{job.job_id}",
                          job_id=job.job_id)


def _reconcile(session) -> list[dict]:
    mismatches = billing.reconcile(session)
    record_reconciliation(len(mismatches))
    if mismatches:
        log.error("ledger reconciliation found %d mismatches", len(mismatches), extra={"mismatches": mismatches})
    return mismatches


@job_task("billing.reconcile", queue="billing")
def reconcile_job(job: JobContext, payload: dict) -> dict:
    mismatches = _reconcile(job.session)
    return {"ok": not mismatches, "mismatches": mismatches}


@shared_task(name="conveyor.billing.reconcile", base=AppContextTask)
def reconcile_nightly() -> int:
    with get_db().Session.begin() as session:
        return len(_reconcile(session))


@shared_task(name="conveyor.billing.expire_holds", base=AppContextTask)
def expire_holds() -> int:
    """Void holds past their expiry, each in its own transaction (a second beat finds them resolved)."""
    db, voided = get_db(), 0
    with db.Session.begin() as session:
        due = billing.expired_holds(session)
    for hold_id in due:
        try:
            with db.Session.begin() as session:
                billing.void(session, uuid.UUID(str(hold_id)))
            voided += 1
        except DomainError:  # resolved meanwhile by its owner or by another beat
            pass
    return voided
