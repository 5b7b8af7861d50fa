"""The job lifecycle's conditional updates: one winner per race, fenced steps, children, system jobs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from models import Job, JobStatus, Role
from models.base import utcnow
from services import jobs as job_service
from services.auth import Principal
from services.errors import Conflict, NotFound
from services.jobs import after_commit
from tests.support import PASSWORD_HASH


@pytest.fixture
def owner(session):
    from services.auth import create_user

    return create_user(session, "owner@example.com", PASSWORD_HASH)


def new_job(session, owner, **kwargs):
    job, created = job_service.submit(session, kind=kwargs.pop("kind", "ping"), owner_id=owner and owner.id,
                                      queue="default", payload=kwargs.pop("payload", {}), max_attempts=3, **kwargs)
    return job


def claim(session, job_id, worker="a", time_limit=60):
    return job_service.claim(session, job_id, lease_seconds=30, time_limit=time_limit, worker=worker)


def test_claim_is_taken_once(session, owner):
    job = new_job(session, owner)
    first = claim(session, job.id)
    assert first is not None and first.attempt == 1
    assert claim(session, job.id, "b") is None


def test_an_expired_lease_can_be_taken_over_and_fences_the_old_attempt(session, owner):
    job = new_job(session, owner)
    old = claim(session, job.id)
    session.execute(update(Job).where(Job.id == job.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    new = claim(session, job.id, "b")
    assert new.attempt == 2
    with pytest.raises(job_service.LeaseLost):
        job_service.finish(session, old, JobStatus.succeeded, result={})
    with pytest.raises(job_service.LeaseLost):
        job_service.commit_step(session, old, 30, {"next": 1}, None)
    assert job_service.renew(session, [old, new], 30) == {job.id: False}
    job_service.finish(session, new, JobStatus.succeeded, result={"ok": 1})
    session.refresh(job)
    assert job.status == JobStatus.succeeded and job.result == {"ok": 1}


def test_finish_happens_once(session, owner):
    job = new_job(session, owner)
    taken = claim(session, job.id)
    job_service.finish(session, taken, JobStatus.succeeded, result={})
    with pytest.raises(job_service.LeaseLost):
        job_service.finish(session, taken, JobStatus.failed, error={"code": "x"})


def test_a_cancelled_job_cannot_be_claimed(session, owner):
    job = new_job(session, owner)
    job_service.cancel(session, job.id, Principal(owner.id, Role.customer))
    assert claim(session, job.id) is None


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
        owner = create_user(s, "racer@example.com", PASSWORD_HASH)
        job = new_job(s, owner)
    barrier, wins = threading.Barrier(8), []

    def race(name):
        barrier.wait()
        with db.Session.begin() as s:
            if claim(s, job.id, name):
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
        owner = create_user(s, "twin@example.com", PASSWORD_HASH)
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


def test_a_lease_is_never_renewed_past_the_attempts_deadline(session, owner):
    job = new_job(session, owner)
    taken = claim(session, job.id, time_limit=5)
    job_service.renew(session, [taken], 600)
    session.refresh(job)
    assert job.lease_expires_at == job.deadline_at == taken.deadline


def test_a_step_records_its_checkpoint_and_progress_with_its_writes(session, owner):
    job = new_job(session, owner)
    taken = claim(session, job.id)
    job_service.commit_step(session, taken, 30, {"next": 3}, {"done": 3, "total": 9, "message": "third"})
    session.refresh(job)
    assert (job.checkpoint, job.progress_done, job.progress_total) == ({"next": 3}, 3, 9)
    # A step without progress of its own leaves the job's progress alone.
    job_service.commit_step(session, taken, 30, {"next": 4}, None)
    session.refresh(job)
    assert (job.checkpoint, job.progress_done) == ({"next": 4}, 3)
    assert claim(session, job.id) is None


def test_system_jobs_share_one_key_space_apart_from_users(session, owner):
    system = new_job(session, None, idempotency_key="payment event 1")
    assert system.owner_id is None
    assert new_job(session, None, idempotency_key="payment event 1").id == system.id
    assert new_job(session, owner, idempotency_key="payment event 1").id != system.id
    as_user = Principal(owner.id, Role.customer)
    with pytest.raises(NotFound):
        job_service.get(session, system.id, as_user)
    assert job_service.get(session, system.id, Principal(owner.id, Role.admin)).id == system.id


def test_a_parent_waits_for_its_children_and_counts_them(session, owner):
    parent = new_job(session, owner, kind="tests.fanout")
    taken = claim(session, parent.id)
    children = [new_job(session, owner, parent_id=parent.id) for _ in range(2)]
    job_service.wait_for_children(session, taken)
    session.refresh(parent)
    assert (parent.status, parent.progress_done, parent.progress_total) == (JobStatus.waiting, 0, 2)
    for child in children:
        job_service.finish(session, claim(session, child.id), JobStatus.succeeded, result={})
    session.refresh(parent)
    # The last child's end queued the parent again, with one more attempt for its next run.
    assert (parent.status, parent.progress_done, parent.max_attempts) == (JobStatus.queued, 2, 4)
    published = [p.job_id for p in after_commit.take(session).publishes]
    assert published.count(parent.id) == 2  # submitted once, resumed once


def test_cancelling_a_parent_cancels_its_queued_children_and_stops_its_running_ones(session, owner):
    parent = new_job(session, owner, kind="tests.fanout")
    taken = claim(session, parent.id)
    queued, running = (new_job(session, owner, parent_id=parent.id) for _ in range(2))
    job_service.wait_for_children(session, taken)
    claim(session, running.id)
    job_service.cancel(session, parent.id, Principal(owner.id, Role.customer))
    for job in (parent, queued, running):
        session.refresh(job)
    assert (parent.status, queued.status) == (JobStatus.cancelled, JobStatus.cancelled)
    assert running.status == JobStatus.running and running.cancel_requested


def test_jobs_go_out_only_when_the_outermost_transaction_commits(app, db, monkeypatch):
    """A savepoint (each keyed submission makes one) is not a commit: nothing is sent before the end,
    and nothing at all from a transaction that is rolled back."""
    from services.auth import create_user

    with db.Session.begin() as s:
        owner = create_user(s, "outbox@example.com", PASSWORD_HASH)
    sent = []
    monkeypatch.setattr(app.extensions["conveyor"].celery, "send_task", lambda name, **kw: sent.append(kw["task_id"]))
    with db.Session.begin() as s:
        ids = [new_job(s, owner, idempotency_key=f"k{n}").id for n in range(3)]
        s.flush()
        assert sent == []
    assert sent == [str(i) for i in ids]
    with pytest.raises(RuntimeError), db.Session.begin() as s:
        new_job(s, owner, idempotency_key="rolled back")
        raise RuntimeError("the transaction fails")
    assert len(sent) == 3
