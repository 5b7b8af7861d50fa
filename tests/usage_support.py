"""Usage on days long past (so that the rollup's grace has passed): charges, a captured hold, a refund and
finished jobs, written through the ledger and the jobs service, then dated back."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import update

from models import JobStatus, Subscription, SubscriptionStatus, Transfer
from services import billing
from services import jobs as job_service
from tests.support import ensure_tier, make_user

D1, D2 = date(2026, 1, 10), date(2026, 1, 11)


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), timezone.utc)


def dated(session, result: dict, day: date) -> dict:
    """Move the operation's transfers to `day`."""
    session.execute(update(Transfer).where(Transfer.id.in_(result["transfer_ids"])).values(created_at=noon(day)))
    return result


def charge(db, user_id: int, amount: int, day: date) -> dict:
    with db.Session.begin() as session:
        return dated(session, billing.charge(session, user_id, amount, key=f"test-charge:{uuid.uuid4()}"), day)


def finished_job(session, user_id: int, status: JobStatus, day: date) -> None:
    job, _ = job_service.submit(session, kind="ping", owner_id=user_id, queue="default", payload={}, max_attempts=1,
                                idempotency_key=f"test-job-{uuid.uuid4()}")
    job.status, job.finished_at = status, noon(day)


def usage_of_two_users(app, db) -> dict:
    """User `a` (no subscription: free): on D1 a charge of 30, a hold of 40 captured at 25, 5 of the charge
    refunded, two jobs (one failed); on D2 a charge of 20. User `b` (basic): a charge of 10 on D1."""
    a, a_auth = make_user(app)
    b, b_auth = make_user(app)
    basic = ensure_tier(db, "basic")
    with db.Session.begin() as session:
        session.add(Subscription(user_id=b, tier_id=basic, status=SubscriptionStatus.active, anchor_at=noon(D1),
                                 period_start=noon(D1), period_end=noon(D1) + timedelta(days=31)))
        for user_id in (a, b):
            dated(session, billing.top_up(session, user_id, 1000, event_id=f"test-{uuid.uuid4()}"), D1 - timedelta(1))
        held = dated(session, billing.hold(session, a, 40, key=f"test-hold:{uuid.uuid4()}"), D1)
        dated(session, billing.capture(session, uuid.UUID(held["hold_id"]), 25), D1)
        finished_job(session, a, JobStatus.succeeded, D1)
        finished_job(session, a, JobStatus.failed, D1)
    charged = charge(db, a, 30, D1)
    with db.Session.begin() as session:
        dated(session, billing.refund(session, charged["transfer_ids"][0], 5, key=f"test-refund:{uuid.uuid4()}"), D1)
    charge(db, a, 20, D2)
    charge(db, b, 10, D1)
    return {"a": a, "a_auth": a_auth, "b": b, "b_auth": b_auth}
