"""The job lifecycle's conditional updates: one winner per race, and a fenced, lost lease."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from models import Job, JobStatus, Role
from models.base import utcnow
from services import jobs as job_service
from services.auth import Principal
from services.errors import Conflict


@pytest.fixture
def owner(session):
    from services.auth import create_user

    return create_user(session, "owner@example.com", "password123")


def new_job(session, owner, **kwargs):
    job, created = job_service.submit(session, kind="ping", owner_id=owner.id, queue="default",
                                      payload=kwargs.pop("payload", {}), max_attempts=3, **kwargs)
    return job


def test_claim_is_taken_once(session, owner):
    job = new_job(session, owner)
    first = job_service.claim(session, job.id, lease_seconds=30, worker="a")
    assert first is not None and first.attempt == 1
    assert job_service.claim(session, job.id, lease_seconds=30, worker="b") is None


def test_an_expired_lease_can_be_taken_over_and_fences_the_old_attempt(session, owner):
    job = new_job(session, owner)
    old = job_service.claim(session, job.id, lease_seconds=30, worker="a")
    session.execute(update(Job).where(Job.id == job.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    new = job_service.claim(session, job.id, lease_seconds=30, worker="b")
    assert new.attempt == 2
    with pytest.raises(job_service.LeaseLost):
        job_service.finish(session, old, JobStatus.succeeded, result={})
    with pytest.raises(job_service.LeaseLost):
        job_service.heartbeat(session, old, 30)
    job_service.finish(session, new, JobStatus.succeeded, result={"ok": 1})
    session.refresh(job)
    assert job.status == JobStatus.succeeded and job.result == {"ok": 1}


def test_finish_happens_once(session, owner):
    job = new_job(session, owner)
    claim = job_service.claim(session, job.id, lease_seconds=30, worker="a")
    job_service.finish(session, claim, JobStatus.succeeded, result={})
    with pytest.raises(job_service.LeaseLost):
        job_service.finish(session, claim, JobStatus.failed, error={"code": "x"})


def test_a_cancelled_job_cannot_be_claimed(session, owner):
    job = new_job(session, owner)
    job_service.cancel(session, job.id, Principal(owner.id, Role.customer))
    assert job_service.claim(session, job.id, lease_seconds=30, worker="a") is None


def test_idempotency_key_reuse(session, owner):
    job = new_job(session, owner, idempotency_key="k", payload={"a": 1})
    assert new_job(session, owner, idempotency_key="k", payload={"a": 1}).id == job.id
    with pytest.raises(Conflict) as refused:
        new_job(session, owner, idempotency_key="k", payload={"a": 2})
    assert refused.value.code == "idempotency_key_reused"


def test_concurrent_claims_have_one_winner(db):
    """Eight threads, each with its own connection, race to claim the same job."""
    from services.auth import create_user

    with db.Session.begin() as s:
        owner = create_user(s, "racer@example.com", "password123")
        job = new_job(s, owner)
    barrier, wins = threading.Barrier(8), []

    def race(name):
        barrier.wait()
        with db.Session.begin() as s:
            if job_service.claim(s, job.id, lease_seconds=30, worker=name):
                wins.append(name)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_concurrent_submissions_with_one_key_make_one_job(db):
    from services.auth import create_user

    with db.Session.begin() as s:
        owner = create_user(s, "twin@example.com", "password123")
    barrier, ids = threading.Barrier(6), []

    def submit():
        barrier.wait()
        with db.Session.begin() as s:
            ids.append(new_job(s, owner, idempotency_key="same", payload={"x": 1}).id)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6 and len(set(ids)) == 1
