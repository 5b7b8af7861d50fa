"""An offline terminal's batch of sales: each sale applied on its own, in a savepoint, with its outcome.

`applied` (recorded now), `duplicate` (recorded before, same content), `conflict` (its client_sale_id
names another sale), or `rejected` with the rule it broke (`insufficient_stock`, `unknown_product`,
`price_below_minimum`, `payments_mismatch`, `insufficient_funds`, ...). A rejected sale leaves nothing.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from services.errors import DomainError
from services.sales import selling

OUTCOMES = ("applied", "duplicate", "conflict", "rejected")


def apply_one(session: Session, branch_id: int, terminal_id: str, index: int, sale: dict, *,
              seller_id: int | None, job_id: uuid.UUID | None, credits_per_unit: int) -> dict:
    """Record one normalised sale of the batch, all or nothing; its outcome."""
    head = {"index": index, "client_sale_id": sale["client_sale_id"]}
    try:
        with session.begin_nested():
            return {**head, **selling.record(session, branch_id, terminal_id, sale, seller_id=seller_id,
                                             job_id=job_id, credits_per_unit=credits_per_unit)}
    except DomainError as exc:
        if exc.code == "client_sale_id_reused":
            return {**head, "outcome": "conflict", "sale_id": exc.details.get("sale_id")}
        return {**head, "outcome": "rejected", "reason": exc.code, "details": exc.details}


def summary(outcomes: list[dict]) -> dict:
    counts = {name: sum(o["outcome"] == name for o in outcomes) for name in OUTCOMES}
    return {"total": len(outcomes), **counts, "outcomes": outcomes}
