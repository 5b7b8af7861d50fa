"""The after-commit hook any code can use: live events and job messages go out only once their
transaction has committed (services record them, see services/jobs/after_commit.py)."""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from services import jobs as job_service
from services.jobs import after_commit
from worker import dispatch
from worker.job_events import FINAL_EVENTS

log = logging.getLogger(__name__)


def install(runtime) -> None:
    @event.listens_for(runtime.db.Session, "after_commit")
    def _deliver(session):
        if session.get_nested_transaction() is not None:
            return  # a savepoint was released: the transaction itself goes on
        pending = after_commit.take(session)
        if pending:
            deliver(runtime, pending)

    @event.listens_for(runtime.db.Session, "after_transaction_end")
    def _forget(session, transaction):
        if transaction.parent is None:  # the transaction ended without a commit (a commit took it already)
            after_commit.take(session)


def deliver(runtime, pending: after_commit.Pending) -> None:
    """Events first, so that a job's `queued` is in its stream before any worker can say `running`.
    They go out in the background, but for a job's end (someone may be waiting on it: no thread
    hand-over delays it) and when messages follow (which must come after them)."""
    urgent = bool(pending.publishes) or any(e.event in FINAL_EVENTS for e in pending.events)
    runtime.events.publish(pending.events, wait=urgent)
    failed = [p.job_id for p in pending.publishes
              if not dispatch.publish(runtime.celery, p.job_id, p.kind, p.countdown)]
    if not failed:
        return
    try:
        with runtime.db.Session.begin() as session:
            job_service.mark_undispatched(session, failed)
    except SQLAlchemyError:  # they stay stamped as sent: the outbox resends them a little later
        log.warning("could not mark %d unsent jobs for the outbox", len(failed), exc_info=True)
