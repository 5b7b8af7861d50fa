"""Beat's repairs, run by hand against the real database and broker (no worker consumes here)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import update

from models import Job, JobStatus
from models.base import utcnow
from services import jobs as job_service
from tasks.beat import cleanup_jobs, dispatch_outbox, reap_leases
from tests.conftest import purge_broker
from worker.dispatch import publish
from worker.queues import ClaimedThrough, queue_depths


def queued_jobs(app, owner_id: int, n: int, *, lost: bool = True, **columns) -> list:
    """`n` queued ping jobs; `lost`: their messages never reached the broker."""
    with app.extensions["conveyor"].db.Session.begin() as s:
        jobs = [job_service.submit(s, kind="ping", owner_id=owner_id, queue="default", payload={"i": i},
                                   max_attempts=3)[0] for i in range(n)]
        if columns:
            s.execute(update(Job).where(Job.id.in_([j.id for j in jobs])).values(**columns))
    if lost:
        purge_broker(app.extensions["celery"])
    return [j.id for j in jobs]


def send(app, job_ids) -> None:
    for job_id in job_ids:
        assert publish(app.extensions["celery"], job_id, "ping")


def depth(app) -> int:
    with app.app_context():
        return queue_depths(["default"])["default"]


def test_outbox_resends_only_what_the_broker_lacks(app, customer):
    ids = queued_jobs(app, customer[0], 5, dispatched_at=utcnow() - timedelta(minutes=5))
    send(app, ids[:3])
    with app.app_context():
        # Three messages wait in the queue; five jobs look stale: only two can be missing.
        assert dispatch_outbox() == 2
        assert depth(app) == 5
        # Just re-sent: nothing is due again until OUTBOX_REDISPATCH_AFTER_SECONDS pass.
        assert dispatch_outbox() == 0


def test_outbox_leaves_a_long_but_healthy_queue_alone(app, customer):
    ids = queued_jobs(app, customer[0], 20, dispatched_at=utcnow() - timedelta(minutes=5))
    send(app, ids)
    with app.app_context():
        assert dispatch_outbox() == 0
    assert depth(app) == 20


def test_outbox_resends_a_lost_job_behind_a_long_healthy_queue(app, customer, make_app):
    """The queue holds more messages than there are stale jobs, so "stale minus depth" resends nothing;
    but a job sent after the lost one has already been claimed: the lost one's message is gone."""
    now = utcnow()
    sent = now - timedelta(minutes=5)
    lost = queued_jobs(app, customer[0], 1, created_at=sent, available_at=sent, dispatched_at=sent)
    waiting = queued_jobs(app, customer[0], 20, lost=False)  # just sent: their messages wait in the queue
    claimed = ClaimedThrough()
    claimed.saw("default", now - timedelta(minutes=2))  # a worker took a job sent two minutes ago
    claimed.flush(app.extensions["conveyor"].redis)
    with make_app(OUTBOX_REDISPATCH_AFTER_SECONDS="60").app_context():  # the queued 20 stay fresh
        assert dispatch_outbox() == 1
    with app.extensions["conveyor"].db.read() as s:
        assert s.get(Job, lost[0]).dispatched_at > now
        assert all(s.get(Job, i).dispatched_at < now + timedelta(seconds=30) for i in waiting)
    assert depth(app) == 21


def test_outbox_waits_for_a_retry_backoff_to_pass(app, customer):
    queued_jobs(app, customer[0], 1, dispatched_at=None, available_at=utcnow() + timedelta(minutes=1))
    with app.app_context():
        assert dispatch_outbox() == 0


def test_reaper_requeues_expired_leases_and_fails_jobs_out_of_attempts(app, customer):
    expired = utcnow() - timedelta(seconds=1)
    alive = queued_jobs(app, customer[0], 1, status=JobStatus.running, attempts=1,
                        lease_expires_at=utcnow() + timedelta(minutes=1))
    retry = queued_jobs(app, customer[0], 1, status=JobStatus.running, attempts=1, lease_expires_at=expired)
    spent = queued_jobs(app, customer[0], 1, status=JobStatus.running, attempts=3, lease_expires_at=expired)
    hung = queued_jobs(app, customer[0], 1, status=JobStatus.running, attempts=3, lease_expires_at=expired,
                       deadline_at=expired)
    with app.app_context():
        assert reap_leases() == {"requeued": 1, "failed": 2}
        assert reap_leases() == {"requeued": 0, "failed": 0}
    with app.extensions["conveyor"].db.read() as s:
        assert s.get(Job, alive[0]).status == JobStatus.running
        assert s.get(Job, retry[0]).status == JobStatus.queued
        failed = s.get(Job, spent[0])
        assert failed.status == JobStatus.failed and failed.error["code"] == "lease_expired"
        assert s.get(Job, hung[0]).error["code"] == "time_limit_exceeded"
    assert depth(app) == 1


def test_cleanup_deletes_only_old_finished_jobs(app, customer):
    long_ago = utcnow() - timedelta(days=31)
    old = queued_jobs(app, customer[0], 1, status=JobStatus.succeeded, finished_at=long_ago)
    recent = queued_jobs(app, customer[0], 1, status=JobStatus.failed, finished_at=utcnow())
    waiting = queued_jobs(app, customer[0], 1)
    with app.app_context():
        assert cleanup_jobs() == 1
    with app.extensions["conveyor"].db.read() as s:
        assert s.get(Job, old[0]) is None
        assert s.get(Job, recent[0]) is not None and s.get(Job, waiting[0]) is not None


def test_two_beats_at_once_resend_each_lost_job_once(app, customer):
    queued_jobs(app, customer[0], 30, dispatched_at=utcnow() - timedelta(minutes=5))
    barrier, sent = threading.Barrier(2), []

    def beat():
        with app.app_context():
            barrier.wait()
            sent.append(dispatch_outbox())

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(sent) == 30
    assert depth(app) == 30
