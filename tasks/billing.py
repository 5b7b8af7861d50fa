"""Billing jobs (queue `billing`): charges, top-ups, adjustments, refunds, reconciliation."""

from __future__ import annotations

import logging

from services import billing
from services.metrics import record_reconciliation
from tasks.base import job_task
from tasks.context import JobContext

log = logging.getLogger(__name__)


@job_task("billing.charge")
def charge(job: JobContext, payload: dict) -> dict:
    return billing.charge(job.session, job.owner_id, payload["amount"], key=f"charge:{job.job_id}",
                          job_id=job.job_id, description=payload.get("description"),
                          reference=payload.get("reference"))


@job_task("billing.topup")
def top_up(job: JobContext, payload: dict) -> dict:
    return billing.top_up(job.session, payload["user_id"], payload["amount"], event_id=payload["event_id"],
                          job_id=job.job_id)


@job_task("billing.adjustment")
def adjust(job: JobContext, payload: dict) -> dict:
    return billing.adjust(job.session, payload["user_id"], payload["amount"], reason=payload["reason"],
                          key=f"adjustment:{job.job_id}", job_id=job.job_id)


@job_task("billing.refund")
def refund(job: JobContext, payload: dict) -> dict:
    return billing.refund(job.session, payload["transfer_id"], payload["amount"], key=f"refund:{job.job_id}",
                          job_id=job.job_id, branch_id=payload.get("branch_id"))


@job_task("billing.reconcile")
def reconcile(job: JobContext, payload: dict) -> dict:
    """Check every ledger invariant (admins on demand, beat nightly as a system job)."""
    with job.db.read(snapshot=True) as session:
        mismatches = billing.reconcile(session)
    record_reconciliation(len(mismatches))
    if mismatches:
        log.error("ledger reconciliation found %d mismatches", len(mismatches), extra={"mismatches": mismatches})
    return {"ok": not mismatches, "mismatches": mismatches}
