"""Sales jobs (queue `sales`): stock adjustments, transfers between branches, stock reconciliation.

Each writes through `job.session`, so its stock changes and movements commit with the job's final
status: a redelivered or retried job finds itself finished, and nothing is applied twice.
"""

from __future__ import annotations

import logging

from services import sales
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
