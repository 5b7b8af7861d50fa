#!/usr/bin/env python
"""The credit refresh: N subscriptions all due at once, refreshed through the job machinery, against one
set-based INSERT ... SELECT that writes the same grants, and what a stream of charges keeps meanwhile.

Measured in one run, against a dedicated PostgreSQL database (conveyor_bench_refresh, dropped and
re-created) and Redis db 9 (flushed):

  set-based  in one transaction: INSERT ... SELECT the N ledger operations, INSERT ... SELECT their N grant
             transfers, one UPDATE of the N granted accounts and one of the N subscriptions; timed up to
             its last statement, then ROLLED BACK (and the tables vacuumed) so the job side meets the
             same rows.
  job        one `billing.refresh_subscriptions` system job (as beat starts it) on the Procfile's worker
             line (`python -m worker jobs`, prefork, 2 processes), REFRESH_BATCH_SIZE at its default;
             timed from the job's started_at to its finished_at (its worker's boot not counted).
  charges    one client process charging 1 credit at a time (services.billing.charge, a transaction
             each) round-robin over 1,000 of the subscribers, funded beforehand: charges/s for 15 s
             before the refresh, then while the job runs. Goal: at least half the throughput.

The N subscriptions (a monthly tier of 2,000 credits, the period ended a minute ago) are made set-based
(tests/subscription_support.py due_subscribers). Checked after: every subscription refreshed exactly
once (N grant transfers, none due) and services.billing.reconcile() finds nothing.

    .venv/bin/python bench/refresh.py                # N = 1,000,000
    .venv/bin/python bench/refresh.py -n 200000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as c  # noqa: E402
from bench._common import log  # noqa: E402

DB_NAME = "conveyor_bench_refresh"
DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
BROKER_URL = "redis://127.0.0.1:6379/9"
CHARGE_USERS = 1000
QUIET_SECONDS = 15.0
GOALS = {"ratio": 3.0, "charges": 0.5}
CHILDREN = c.Children(prefix="conveyor-bench-refresh-")
ENV = c.base_env(CHILDREN, DATABASE_URL=DATABASE_URL, BROKER_URL=BROKER_URL, REDIS_URL=BROKER_URL)
c.use_env_here(ENV)
Path(ENV["PROMETHEUS_MULTIPROC_DIR"]).mkdir(exist_ok=True)

import psycopg  # noqa: E402
import redis  # noqa: E402

SET_BASED = [
    """INSERT INTO ledger_operations (id, idempotency_key, kind, fingerprint, user_id, amount, result, created_at)
       SELECT gen_random_uuid(), 'refresh:' || s.id || ':' || s.period_end, 'grant', '', s.user_id,
              t.credits_per_period, '{}', now()
       FROM subscriptions s JOIN tiers t ON t.id = s.tier_id
       WHERE s.status = 'active' AND s.period_end <= now()""",
    """INSERT INTO transfers (debit_account_id, credit_account_id, amount, kind, status, operation_id,
                              idempotency_key, created_at)
       SELECT %(grants)s, a.id, o.amount, 'grant', 'posted', o.id, o.idempotency_key || '#0', now()
       FROM ledger_operations o JOIN accounts a ON a.owner_id = o.user_id AND a.kind = 'granted'
       WHERE o.idempotency_key LIKE 'refresh:%%'""",
    """UPDATE accounts a SET balance = a.balance + t.credits_per_period
       FROM subscriptions s JOIN tiers t ON t.id = s.tier_id
       WHERE a.owner_id = s.user_id AND a.kind = 'granted' AND s.status = 'active' AND s.period_end <= now()""",
    """UPDATE subscriptions SET period_start = period_end, period_end = period_end + interval '1 month'
       WHERE status = 'active' AND period_end <= now()""",
]


def setup(n: int) -> list[int]:
    """The tiers (migrated), N due subscribers, and CHARGE_USERS of them funded; the chargers' user ids."""
    from sqlalchemy import select

    from config import load_settings
    from models import Tier, User
    from models.base import utcnow
    from models.database import make_database
    from services import billing
    from services.billing.ledger import system_account_id
    from tests.subscription_support import due_subscribers

    db = make_database(load_settings().database_url)
    now = utcnow()
    with db.Session.begin() as session:
        basic = session.scalar(select(Tier.id).where(Tier.name == "basic"))
        due_subscribers(session, n, basic, now - timedelta(days=31), now - timedelta(minutes=1), prefix="bench")
    with db.Session.begin() as session:
        chargers = list(session.scalars(select(User.id).order_by(User.id).limit(CHARGE_USERS)))
        for user_id in chargers:
            billing.top_up(session, user_id, 10_000_000, event_id=f"bench-{user_id}")
        for name in ("grants", "expired"):
            system_account_id(session, name)
    db.engine.dispose()
    return chargers


def set_based() -> float:
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        grants = conn.execute("SELECT id FROM accounts WHERE name = 'grants'").fetchone()[0]
        conn.execute("BEGIN")
        began = time.perf_counter()
        for statement in SET_BASED:
            conn.execute(statement, {"grants": grants})
        seconds = time.perf_counter() - began
        conn.execute("ROLLBACK")
        conn.execute("VACUUM ANALYZE ledger_operations, transfers, accounts, subscriptions")
    return seconds


def charge_stream(chargers: list[int], stop, counts) -> None:
    """Charge 1 credit at a time, round-robin, appending (time, charges so far) every 0.25 s."""
    from config import load_settings
    from models.database import make_database
    from services import billing

    db = make_database(load_settings().database_url, pool_size=1)
    last, n = time.monotonic(), 0
    while not stop.is_set():
        with db.Session.begin() as session:
            billing.charge(session, chargers[n % len(chargers)], 1, key=f"bench-charge-{uuid.uuid4()}")
        n += 1
        if time.monotonic() - last >= 0.25:
            counts.append((time.time(), n))
            last = time.monotonic()
    counts.append((time.time(), n))
    db.engine.dispose()


def rate(counts, since: float, until: float) -> float:
    inside = [(t, n) for t, n in counts if since <= t <= until]
    if len(inside) < 2:
        return 0.0
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def run_job(timeout: float) -> dict:
    from config import load_settings
    from models import Job, JobStatus
    from models.database import make_database
    from services import jobs as job_service

    settings = load_settings()
    db = make_database(settings.database_url)
    with db.Session.begin() as session:
        job, _ = job_service.submit(session, kind="billing.refresh_subscriptions", owner_id=None, queue="billing",
                                    payload={}, max_attempts=settings.job_max_attempts,
                                    idempotency_key="bench refresh")
        job_id = job.id
    from celery import Celery
    from worker.settings import celery_config

    celery = Celery("conveyor-bench-refresh", set_as_current=False)
    celery.config_from_object(celery_config(settings))
    submitted = time.time()
    celery.send_task("conveyor.jobs.billing.refresh_subscriptions", args=[str(job_id)], queue="billing",
                     task_id=str(job_id))
    deadline = time.monotonic() + timeout
    while True:
        with db.read() as session:
            job = session.get(Job, job_id)
            if job.status in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled):
                break
        if time.monotonic() > deadline:
            raise c.BenchTimeout(f"the refresh job is still {job.status.value}")
        time.sleep(0.2)
    db.engine.dispose()
    return {"status": job.status.value, "result": job.result, "error": job.error, "attempts": job.attempts,
            "seconds": (job.finished_at - job.started_at).total_seconds(), "started": job.started_at.timestamp(),
            "finished": job.finished_at.timestamp(), "wall": time.time() - submitted}


def check(n: int) -> list[str]:
    from sqlalchemy import func, select

    from config import load_settings
    from models import Subscription, Transfer, TransferKind
    from models.base import utcnow
    from models.database import make_database
    from services import billing

    db = make_database(load_settings().database_url)
    problems = []
    with db.read() as session:
        grants = session.scalar(select(func.count()).select_from(Transfer).where(Transfer.kind == TransferKind.grant))
        due = session.scalar(select(func.count()).select_from(Subscription).where(Subscription.period_end <= utcnow()))
        if grants != n or due:
            problems.append(f"{grants} grant transfers for {n} subscriptions, {due} still due")
        mismatches = billing.reconcile(session)
        if mismatches:
            problems.append(f"reconciliation: {len(mismatches)} mismatches, first {mismatches[:2]}")
    db.engine.dispose()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="subscriptions (default 1,000,000)")
    args = parser.parse_args()
    n = args.n
    c.install_guards(CHILDREN, 600 + n / 200)
    CHILDREN.keep_logs = True
    began = time.perf_counter()
    log(f"resetting {DB_NAME} and {BROKER_URL}, migrating")
    redis.Redis.from_url(BROKER_URL).flushdb()
    c.reset_database(ENV, db_name=DB_NAME)
    chargers = setup(n)
    log(f"{n} due subscriptions made ({time.perf_counter() - began:.0f} s)")
    baseline = set_based()
    log(f"set-based: {baseline:.1f} s")

    c.start_worker(CHILDREN, "worker", "worker.app", ENV)
    stop, counts = multiprocessing.Event(), multiprocessing.Manager().list()
    charger = multiprocessing.Process(target=charge_stream, args=(chargers, stop, counts))
    charger.start()
    time.sleep(QUIET_SECONDS + 1)
    quiet_rate = rate(list(counts), time.time() - QUIET_SECONDS, time.time())
    log(f"charges alone: {quiet_rate:.0f}/s; starting the refresh job")
    job = run_job(timeout=300 + n / 100)
    stop.set()
    charger.join(30)
    busy_rate = rate(list(counts), job["started"], job["finished"])
    log(f"job: {job['seconds']:.1f} s ({job['status']}); charges meanwhile {busy_rate:.0f}/s")

    problems = [] if job["status"] == "succeeded" else [f"job {job['status']}: {job['error']}"]
    problems += check(n)
    ratio, kept = job["seconds"] / baseline, busy_rate / quiet_rate if quiet_rate else 0.0
    print()
    print(f"Credit refresh: {n} subscriptions due at once, PostgreSQL {DB_NAME}, {os.cpu_count()} cores, "
          f"code {c.code_version()}")
    print()
    print(f"{'side':<58} {'seconds':>8} {'subs/s':>9}")
    print(f"{'set-based: INSERT ... SELECT ops + transfers, 2 UPDATEs':<58} {baseline:>8.1f} {n / baseline:>9.0f}")
    print(f"{'job: billing.refresh_subscriptions, worker `jobs` -c 2':<58} {job['seconds']:>8.1f} "
          f"{n / job['seconds']:>9.0f}")
    print(f"  (wall time from the message to the job's end: {job['wall']:.1f} s; attempts {job['attempts']})")
    print()
    print(f"job / set-based = {ratio:.2f}  (goal <= {GOALS['ratio']}): {'MET' if ratio <= GOALS['ratio'] else 'NOT MET'}")
    print(f"charges: {quiet_rate:.0f}/s alone, {busy_rate:.0f}/s during the refresh = {kept:.2f} "
          f"(goal >= {GOALS['charges']}): {'MET' if kept >= GOALS['charges'] else 'NOT MET'}")
    print("checks: each subscription granted exactly once, none left due, ledger reconciled: "
          + ("all passed" if not problems else "FAILED"))
    for problem in problems:
        print(f"  {problem}")
    print(f"total time {time.perf_counter() - began:.0f} s")
    sys.stdout.flush()
    CHILDREN.keep_logs = bool(problems)
    CHILDREN.stop_all()
    redis.Redis.from_url(BROKER_URL).flushdb()
    with psycopg.connect(c.PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    return 0 if not problems else 1


if __name__ == "__main__":
    c.run(main)
