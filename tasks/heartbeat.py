"""One thread per worker process keeps the jobs running in it honest, once a second.

It renews their leases (all in one statement, a third of a lease before they run out), writes the
progress they reported, notices a cancel, and stops a job at its soft time limit. Past an attempt's
hard time limit its lease is no longer renewed, so a hung job is taken back by the lease reaper.
If the process dies the renewals stop, and the reaper (or a redelivered message) hands the job on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from models import Job
from services import jobs as job_service
from worker.queues import ClaimedThrough

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class Heartbeats:
    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict = {}  # job id -> JobContext
        self._pid = None
        self.claimed = ClaimedThrough()

    @contextmanager
    def tracking(self, ctx):
        self._ensure_thread(ctx.runtime)
        with self._lock:
            self._running[ctx.job_id] = ctx
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(ctx.job_id, None)

    def _ensure_thread(self, runtime) -> None:
        # After a fork the parent's thread does not exist in the child: start one per process.
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
        threading.Thread(target=self._loop, args=(runtime,), name="conveyor-heartbeat", daemon=True).start()

    def _loop(self, runtime) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            with self._lock:
                running = list(self._running.values())
            try:
                if running:
                    self.beat(runtime.db, running)
                self.claimed.flush(runtime.redis)
            except SQLAlchemyError:  # a missed beat is made up at the next: a lease outlasts three
                log.warning("heartbeat failed", exc_info=True)

    @staticmethod
    def beat(db, running: list) -> None:
        now = time.monotonic()
        for ctx in running:
            if ctx.elapsed > ctx.soft_time_limit:
                ctx.stop("time_limit")
        # Past its hard limit a job is not renewed (the database caps its lease at that moment anyway).
        alive = [ctx for ctx in running if ctx.elapsed < ctx.time_limit]
        progressed = [(ctx, p) for ctx in alive if (p := ctx.take_progress()) is not None]
        written = {ctx for ctx, _ in progressed}
        due = [ctx for ctx in alive if ctx not in written and now - ctx.renewed >= ctx.lease_seconds / 3]
        cancels, lost = set(), set()
        if progressed or due:
            # A lost renewal costs nothing: the next one comes within seconds.
            with db.autocommit(durable=False) as session:
                for ctx, progress in progressed:
                    try:
                        if job_service.save_progress(session, ctx.claim, ctx.lease_seconds, progress):
                            cancels.add(ctx)
                    except job_service.LeaseLost:
                        lost.add(ctx)
                if due:
                    renewed = job_service.renew(session, [ctx.claim for ctx in due], due[0].lease_seconds)
                    lost |= {ctx for ctx in due if ctx.job_id not in renewed}
                    cancels |= {ctx for ctx in due if renewed.get(ctx.job_id)}
        quiet = [ctx for ctx in alive if ctx not in written and ctx not in due]
        if quiet:  # nothing to write for them: only look for a cancel, without taking a write lock
            with db.read() as session:
                asked = set(session.scalars(select(Job.id).where(
                    Job.id.in_([ctx.job_id for ctx in quiet]), Job.cancel_requested.is_(True))))
            cancels |= {ctx for ctx in quiet if ctx.job_id in asked}
        for ctx in written | set(due):
            if ctx not in lost:
                ctx.renewed = now
        for ctx in lost:
            ctx.stop("lease_lost")
        for ctx in cancels:
            ctx.stop("cancelled")


HEARTBEATS = Heartbeats()
