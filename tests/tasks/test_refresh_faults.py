"""The refresh with real worker processes: two refresh jobs at once, and a worker killed half-way through
10,000 subscriptions; every subscription is refreshed exactly once and the ledger reconciles."""

from __future__ import annotations


import pytest
from sqlalchemy import func, select

from models import JobStatus, LedgerOperation, Subscription, Transfer, TransferKind
from services import billing
from tasks.beat import start_job
from tests.subscription_support import due_subscribers, seed_tiers_in, utc
from tests.support import load_job, requeue_after_lease, wait_for_progress, wait_for_status
from worker.submission import enqueue

ANCHOR, ENDED = utc(2026, 1, 1), utc(2026, 2, 1)


def seeded(db, count: int) -> dict[str, int]:
    tiers = seed_tiers_in(db)
    with db.Session.begin() as session:
        due_subscribers(session, count, tiers["basic"], ANCHOR, ENDED)
    return tiers


def start_refresh(app, n: int) -> str:
    with app.app_context(), app.extensions["conveyor"].db.Session.begin() as session:
        return str(enqueue(session, "billing.refresh_subscriptions", {}, idempotency_key=f"refresh test {n}")[0].id)


def assert_each_refreshed_once(db, count: int) -> None:
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Subscription)
                              .where(Subscription.period_end <= ENDED)) == 0
        # One grant each, for the period containing now (the months in between were missed: catch-up).
        grants = session.execute(select(func.count(), func.count(func.distinct(LedgerOperation.user_id)))
                                 .select_from(Transfer).join(LedgerOperation, Transfer.operation_id == LedgerOperation.id)
                                 .where(Transfer.kind == TransferKind.grant)).one()
        assert tuple(grants) == (count, count)
        assert session.scalar(select(func.count(func.distinct(Subscription.period_start)))) == 1
        assert billing.reconcile(session) == []


def metric(client, metrics_auth, name: str) -> float:
    lines = client.get("/metrics", headers=metrics_auth).get_data(as_text=True).splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(name))


def test_two_refresh_jobs_at_once_refresh_each_subscription_once(app, db, client, metrics_auth, worker_processes):
    granted_before = metric(client, metrics_auth, 'conveyor_credits_granted_total{tier="basic"}')
    seeded(db, 400)
    jobs = [start_refresh(app, n) for n in range(2)]
    for _ in jobs:
        worker_processes(queues="billing", env={"REFRESH_BATCH_SIZE": "7"})
    finished = [wait_for_status(app, job_id, timeout=120) for job_id in jobs]
    assert [j.status for j in finished] == [JobStatus.succeeded] * 2, [j.error for j in finished]
    assert sum(j.result["refreshed"] for j in finished) == 400
    assert_each_refreshed_once(db, 400)
    assert metric(client, metrics_auth, 'conveyor_credits_granted_total{tier="basic"}') - granted_before == 400 * 2000
    assert metric(client, metrics_auth, "conveyor_refresh_lag_seconds") > 0  # a month late, at least
    assert metric(client, metrics_auth, "conveyor_refresh_duration_seconds") > 0


def test_a_worker_killed_half_way_through_10000_subscriptions(app, db, worker_processes):
    if db.is_sqlite:
        pytest.skip("the crash is PostgreSQL's: SQLite's writers are serialised anyway (two-jobs test above)")
    count = 10_000
    seeded(db, count)
    victim = worker_processes(queues="billing", env={"REFRESH_BATCH_SIZE": "50"})
    job_id = start_refresh(app, 0)
    wait_for_progress(app, job_id, 1000, timeout=120)
    victim.kill9()
    done_at_kill = load_job(app, job_id).progress_done
    assert done_at_kill < count, "the refresh finished before the kill; make it longer"

    requeue_after_lease(app)
    worker_processes(queues="billing", env={"REFRESH_BATCH_SIZE": "500"})
    job = wait_for_status(app, job_id, timeout=300)
    assert job.status == JobStatus.succeeded and job.attempts == 2, job.error
    assert job.result["refreshed"] == count
    assert_each_refreshed_once(db, count)


def test_beat_starts_one_refresh_job_a_minute_on_the_billing_queue(app):
    with app.app_context():
        job_ids = {start_job("billing.refresh_subscriptions", {}) for _ in range(2)}  # two beats, same minute
    assert len(job_ids) == 1
    job = load_job(app, job_ids.pop())
    assert job.queue == "billing" and job.owner_id is None
