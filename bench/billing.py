#!/usr/bin/env python
"""Billing throughput: `billing.charge` jobs through the real job machinery vs. the bare SQL they rest on.

Measured in one run, against a dedicated PostgreSQL database (conveyor_bench_billing, dropped and
re-created) and Redis db 10 (flushed):

  raw     the ledger's conditional UPDATE alone (`UPDATE accounts SET balance = balance - 1 WHERE id = :id
          AND balance - pending >= 1`), autocommit, by as many psycopg client processes as the worker has
          pool processes (2), N times in total on ONE hot account row. Run before and after the job
          phases; the higher figure is the baseline (the ratio is the harder to meet).
  hot     N charge jobs of 1 credit for ONE user: job rows made with services.jobs.submit, messages
          published before the worker starts, then ONE `celery -A worker.app worker -Q billing -c 2`;
          timed from the first claim to the last finish (jobs.started_at / finished_at), so the worker's
          boot is not counted (the wall time including it is printed too).
  spread  the same, with the N charges spread round-robin over 1,000 users' wallets.
  ledger  the ledger alone, no job machinery (which caps near 200 jobs/s here): services.billing called
          directly by as many processes as the worker has (2), each with its own engine, one
          transaction per operation, on ONE hot wallet: N `charge`s, then N/2 `hold` + `capture`
          pairs (an LLM call's two operations, in two transactions). Rates are ledger operations
          (transactions) per second, each set against the raw UPDATE: the ledger's own cost.

Two context rows (min(N, 2000) each; --no-floors skips them) split the gap: the same worker running
Celery's built-in no-op task `celery.accumulate` (Celery's own floor: no job row, no database), and
no-op `ping` jobs (the job machinery's floor: claim and finish, no billing). For every phase it also
prints the CPU cores used by the worker / PostgreSQL / Redis / anything else on the machine (a busy
machine makes the figures noisy: see "other"), and what the measured database sessions were doing
(pg_stat_activity sampled every 50 ms: running, waiting on a row lock and where, idle in a
transaction waiting for Python, ...).

Every job phase is checked: all jobs succeeded, each wallet went down by exactly what was charged,
N charge transfers exist, and services.billing.reconcile() finds nothing; each ledger phase likewise
(the wallet down by one credit per charge or capture, one charge transfer each, no hold left open). The raw UPDATEs bypass the
ledger, so the raw phase gives its account the credits back afterwards.

Users are made with services.auth.create_user and funded with services.billing.top_up; all but the
hot wallet's user with a minimal argon2 hasher swapped in (a real hash takes ~0.2 s each).

    .venv/bin/python bench/billing.py            # N=5000
    .venv/bin/python bench/billing.py --quick    # N=1000
    .venv/bin/python bench/billing.py --quick --ledger-only   # raw and ledger phases only (no worker)
    .venv/bin/python bench/billing.py -n 2000 --py-spy /tmp/prof   # also record the worker (slower)

It starts and stops its own worker processes (each in its own process group, killed on exit, error,
Ctrl-C, SIGTERM and its own time limit).
"""

from __future__ import annotations

import argparse
import collections
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as c  # noqa: E402
from bench._common import BenchTimeout, log  # noqa: E402

DB_NAME = "conveyor_bench_billing"
PG_DSN = f"host=127.0.0.1 port=5432 user=postgres dbname={DB_NAME} application_name=conveyor-bench"
RAW_DSN = f"host=127.0.0.1 port=5432 user=postgres dbname={DB_NAME} application_name=conveyor-bench-raw"
DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
BROKER_URL = "redis://127.0.0.1:6379/10"
CONCURRENCY = 2
SPREAD_USERS = 1000
GOAL = 0.3
CHILDREN = c.Children(prefix="conveyor-bench-billing-")  # child processes, their logs in CHILDREN.tmp

# The project reads these at import time (settings; prometheus_client's multiprocess directory).
BENCH_ENV = {"DATABASE_URL": DATABASE_URL, "BROKER_URL": BROKER_URL, "CONVEYOR_ENV": "test", **c.BENCH_SECRETS,
             "LOG_LEVEL": "WARNING", "PROMETHEUS_MULTIPROC_DIR": str(CHILDREN.tmp / "metrics-bench")}
os.environ.update(BENCH_ENV)
Path(BENCH_ENV["PROMETHEUS_MULTIPROC_DIR"]).mkdir()

import psycopg  # noqa: E402
import redis  # noqa: E402


def wait_for_quiet() -> float:
    """Wait (a little) for other work on the machine to calm down; returns the last busy fraction."""
    return c.wait_for_quiet(limit=0.15, max_wait=30.0, sample=0.5)


# --------------------------------------------------------------------------------------------
# Database and broker
# --------------------------------------------------------------------------------------------

def reset_stores() -> None:
    redis.Redis.from_url(BROKER_URL).flushdb()
    c.reset_database({**os.environ, **BENCH_ENV}, db_name=DB_NAME)


class Project:
    """The project's own code, imported after the environment above is set."""

    def __init__(self):
        from celery import Celery

        from config import load_settings
        from models import Account, AccountKind, Transfer, TransferKind
        from models.database import make_database
        from services import auth, billing, jobs
        from worker.settings import celery_config

        self.settings = load_settings()
        self.db = make_database(self.settings.database_url)
        self.auth, self.billing, self.jobs = auth, billing, jobs
        self.Account, self.AccountKind, self.Transfer, self.TransferKind = Account, AccountKind, Transfer, TransferKind
        self.celery = Celery("conveyor-bench-billing", set_as_current=False)
        self.celery.config_from_object(celery_config(self.settings))

    def create_users(self, prefix: str, count: int, credits: int) -> list[int]:
        """Users via services.auth.create_user (one password hash for all: passwords play no part in
        billing), each topped up via services.billing.top_up."""
        ids: list[int] = []
        password_hash = self.auth.hash_password("bench-password-123")
        for start in range(0, count, 200):
            with self.db.Session.begin() as session:
                for i in range(start, min(count, start + 200)):
                    user = self.auth.create_user(session, f"{prefix}-{i}@bench.example", password_hash)
                    session.flush()
                    self.billing.top_up(session, user.id, credits, event_id=f"bench-{prefix}-{i}")
                    ids.append(user.id)
        return ids

    def balance(self, user_id: int) -> int:
        with self.db.Session.begin() as session:
            return self.billing.wallet(session, user_id)["balance"]

    def purchased_account_id(self, user_id: int) -> int:
        from sqlalchemy import select
        with self.db.Session.begin() as session:
            return session.scalar(select(self.Account.id).where(self.Account.owner_id == user_id,
                                                                self.Account.kind == self.AccountKind.purchased))

    def submit_jobs(self, owners: list[int], kind: str = "billing.charge") -> list[uuid.UUID]:
        """One queued job per entry of `owners`, as the API writes it (services.jobs.submit).

        billing.charge: 1 credit on queue `billing`; ping (the no-op context job): queue `default`.
        """
        payload = {"amount": 1, "description": None, "reference": None} if kind == "billing.charge" else {}
        queue = "billing" if kind == "billing.charge" else "default"
        ids: list[uuid.UUID] = []
        for start in range(0, len(owners), 500):
            with self.db.Session.begin() as session:
                for owner in owners[start:start + 500]:
                    job, created = self.jobs.submit(session, kind=kind, owner_id=owner, queue=queue,
                                                    payload=payload, max_attempts=5)
                    assert created
                    ids.append(job.id)
        return ids

    def publish(self, job_ids: list[uuid.UUID], kind: str = "billing.charge") -> None:
        """The job's message, as worker/dispatch.py sends it; always to queue `billing` (the worker's)."""
        with self.celery.producer_or_acquire() as producer:
            for job_id in job_ids:
                self.celery.send_task(f"conveyor.jobs.{kind}", args=[str(job_id)], queue="billing",
                                      task_id=str(job_id), producer=producer)

    def charges_of(self, user_id: int) -> int:
        """Charge transfers out of the user's accounts."""
        from sqlalchemy import func, select
        mine = select(self.Account.id).where(self.Account.owner_id == user_id)
        with self.db.Session.begin() as session:
            return session.scalar(select(func.count()).select_from(self.Transfer).where(
                self.Transfer.kind == self.TransferKind.charge, self.Transfer.debit_account_id.in_(mine)))

    def open_holds(self) -> int:
        from sqlalchemy import func, select

        from models import HoldState, LedgerOperation
        with self.db.Session.begin() as session:
            return session.scalar(select(func.count()).select_from(LedgerOperation).where(
                LedgerOperation.state == HoldState.open))

    def reconcile(self) -> list[dict]:
        with self.db.Session.begin() as session:
            return self.billing.reconcile(session)

    def charge_transfers(self, job_ids: list[uuid.UUID]) -> int:
        from sqlalchemy import func, select
        with self.db.Session.begin() as session:
            return session.scalar(select(func.count()).select_from(self.Transfer).where(
                self.Transfer.kind == self.TransferKind.charge, self.Transfer.job_id.in_(job_ids)))


# --------------------------------------------------------------------------------------------
# Raw SQL baseline
# --------------------------------------------------------------------------------------------

def shares(n: int) -> list[int]:
    """n split over the CONCURRENCY clients."""
    return [n // CONCURRENCY + (1 if i < n % CONCURRENCY else 0) for i in range(CONCURRENCY)]


def drive_clients(target, client_args: list[tuple], *, profile: Path | None = None) -> tuple[list, dict, str]:
    """Fork one process per entry of `client_args`, each running target(*args, barrier, results);
    all start together once ready (the CPU window and the optional py-spy profile of the first one
    begin then). Returns (what each put in `results`, CPU seconds by group, DB activity)."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(len(client_args) + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results), daemon=True) for args in client_args]
    for p in procs:
        p.start()
    sampler, profiler = ActivitySampler(), None
    try:
        barrier.wait(timeout=60)
        if profile is not None:
            profile.parent.mkdir(parents=True, exist_ok=True)
            profiler = c.start_py_spy(CHILDREN, f"py-spy-{profile.stem}", procs[0].pid, profile)
        cpu0 = c.cpu_snapshot()
        sampler.start()
        got = [results.get(timeout=300) for _ in procs]
        cpu1 = c.cpu_snapshot()
    finally:
        activity = sampler.finish()
        if profiler is not None:
            CHILDREN.stop(profiler, timeout=30, sig=signal.SIGINT)
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
    return got, cpu_by_group(cpu0, cpu1, None, {p.pid for p in procs}), activity


RAW_SQL = "UPDATE accounts SET balance = balance - 1 WHERE id = %s AND balance - pending >= 1"


def _raw_client(account_id: int, count: int, barrier, results) -> None:
    with psycopg.connect(RAW_DSN, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        barrier.wait()
        t0 = time.perf_counter()
        moved = 0
        for _ in range(count):
            cur.execute(RAW_SQL, (account_id,), prepare=True)
            moved += cur.rowcount
        results.put((t0, time.perf_counter(), moved))


def run_raw(project: Project, account_id: int, user_id: int, n: int) -> dict:
    before = project.balance(user_id)
    got, groups, activity = drive_clients(_raw_client, [(account_id, share) for share in shares(n)])
    start, end = min(g[0] for g in got), max(g[1] for g in got)
    moved = sum(g[2] for g in got)
    after = project.balance(user_id)
    # The bare UPDATEs bypassed the ledger (no transfers): give the credits back, so that the
    # reconciliation of the job phases sees balanced books.
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute("UPDATE accounts SET balance = balance + %s WHERE id = %s", (moved, account_id))
    ok = moved == n and before - after == n and project.balance(user_id) == before
    return {"n": n, "seconds": end - start, "rate": n / (end - start), "ok": ok,
            "check": f"{moved} rows moved, balance {before} -> {after} (then restored)",
            "cpu_cores": cores(groups, end - start), "activity": activity}


# --------------------------------------------------------------------------------------------
# The ledger alone: services.billing called directly, no job machinery
# --------------------------------------------------------------------------------------------

def _ledger_client(op: str, user_id: int, count: int, tag: str, barrier, results) -> None:
    """`count` ledger operations on the hot wallet, each in its own transaction on its own session:
    `charge` (one transaction each) or `hold+capture` (two: the hold commits before the work, as
    an LLM call's does, the capture after)."""
    from models.database import make_database
    from services import billing

    db = make_database(os.environ["DATABASE_URL"])  # after the fork: connections of this process's own
    with db.Session.begin() as session:
        billing.wallet(session, user_id)
    barrier.wait()
    t0 = time.perf_counter()
    for i in range(count):
        key = f"bench-ledger-{tag}-{os.getpid()}-{i}"
        if op == "charge":
            with db.Session.begin() as session:
                billing.charge(session, user_id, 1, key=key)
        else:
            with db.Session.begin() as session:
                hold_id = billing.hold(session, user_id, 1, key=key)["hold_id"]
            with db.Session.begin() as session:
                billing.capture(session, uuid.UUID(hold_id), 1)
    results.put((t0, time.perf_counter()))
    db.engine.dispose()


def run_ledger(project: Project, op: str, user_id: int, n: int, *, py_spy: Path | None) -> dict:
    """N ledger operations (N/2 hold+capture pairs) on ONE wallet by CONCURRENCY processes."""
    calls = n if op == "charge" else n // 2
    before, charges_before = project.balance(user_id), project.charges_of(user_id)
    tag = uuid.uuid4().hex[:8]
    got, groups, activity = drive_clients(_ledger_client, [(op, user_id, share, tag) for share in shares(calls)],
                                          profile=py_spy / f"ledger-{op}.txt" if py_spy else None)
    start, end = min(g[0] for g in got), max(g[1] for g in got)
    ops = calls * (1 if op == "charge" else 2)
    after = project.balance(user_id)
    charges, open_holds = project.charges_of(user_id) - charges_before, project.open_holds()
    mismatches = project.reconcile()
    ok = before - after == calls and charges == calls and not open_holds and not mismatches
    return {"n": ops, "seconds": end - start, "rate": ops / (end - start), "ok": ok,
            "check": f"{calls} {op} calls, balance {before} -> {after}, {charges} charge transfers, "
                     f"{open_holds} holds left open, reconcile: {len(mismatches)} mismatches",
            "cpu_cores": cores(groups, end - start), "activity": activity,
            "worker_cpu_ms": groups.get("clients", 0.0) / ops * 1000}


# --------------------------------------------------------------------------------------------
# CPU accounting: who burnt the machine's cores during a phase
# --------------------------------------------------------------------------------------------

def cpu_by_group(before: dict, after: dict, worker_pgid: int | None, client_pids: set[int] = frozenset()) -> dict:
    """CPU seconds used between the snapshots, by who used them (processes that ended in between are missed)."""
    groups: dict[str, float] = {}
    for pid, (comm, pgid, _ppid, seconds, started) in after.items():
        same = pid in before and before[pid][4] == started  # not a reused pid
        used = seconds - (before[pid][3] if same else 0.0)
        if worker_pgid is not None and pgid == worker_pgid:
            group = "worker"
        elif pid in client_pids:
            group = "clients"
        elif comm == "postgres":
            group = "postgres"
        elif comm.startswith("redis-server"):
            group = "redis"
        elif pid == os.getpid():
            group = "bench"
        else:
            group = "other"
        groups[group] = groups.get(group, 0.0) + used
    return groups


def cores(groups: dict, seconds: float) -> str:
    order = ["worker", "clients", "postgres", "redis", "bench", "other"]
    return ", ".join(f"{g} {groups[g] / seconds:.2f}" for g in order if groups.get(g, 0) / seconds >= 0.005)


# --------------------------------------------------------------------------------------------
# What the measured database sessions are doing: pg_stat_activity, sampled every 50 ms
# --------------------------------------------------------------------------------------------

STATES = ("PG running", "row-lock wait", "WAL/IO wait", "other wait", "idle in txn (Python)", "idle")


class ActivitySampler(threading.Thread):
    """Mean number of the measured sessions (all but the bench's own) in each state."""

    def __init__(self):
        super().__init__(daemon=True)
        self.counts = dict.fromkeys(STATES, 0)
        self.lock_waits: collections.Counter = collections.Counter()
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            while not self._halt.wait(0.05):
                rows = conn.execute(
                    "SELECT state, wait_event_type, left(query, 40) FROM pg_stat_activity WHERE datname = %s "
                    "AND backend_type = 'client backend' AND application_name <> 'conveyor-bench' "
                    "AND pid <> pg_backend_pid()", (DB_NAME,)).fetchall()
                for state, wait, query in rows:
                    if state == "active":
                        key = {None: "PG running", "Lock": "row-lock wait", "IO": "WAL/IO wait",
                               "LWLock": "WAL/IO wait"}.get(wait, "other wait")
                        if wait == "Lock":
                            self.lock_waits[" ".join(query.split())] += 1
                    elif state and state.startswith("idle in transaction"):
                        key = "idle in txn (Python)"
                    else:
                        key = "idle"
                    self.counts[key] += 1
                self.samples += 1

    def finish(self) -> str:
        self._halt.set()
        if self.ident is not None:
            self.join(5)
        n = max(1, self.samples)
        text = ", ".join(f"{k} {self.counts[k] / n:.2f}" for k in STATES if self.counts[k] / n >= 0.005)
        if self.lock_waits:
            total = sum(self.lock_waits.values())
            text += "; lock waits in: " + ", ".join(f"{q!r} {k / total:.0%}" for q, k in self.lock_waits.most_common(2))
        return text


# --------------------------------------------------------------------------------------------
# Worker phases: messages first, then one worker, timed until everything ran
# --------------------------------------------------------------------------------------------

def start_worker(name: str) -> subprocess.Popen:
    """`celery -A worker.app worker -Q billing -c 2` (CONCURRENCY), its own metrics directory."""
    metrics = CHILDREN.tmp / f"metrics-{name}"
    metrics.mkdir()
    env = {**os.environ, **BENCH_ENV, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    return c.start_worker(CHILDREN, name, "worker.app", env, extra=("-n", f"{name}@%h"))


def drive_worker(name: str, n: int, progress, *, py_spy: Path | None, timeout: float, poll: float) -> dict:
    """Start the worker on the already-published messages; `progress()` -> (started, finished).

    The CPU window runs from the first poll that sees work started to the one that sees it all done.
    """
    busy = wait_for_quiet()
    worker = start_worker(name)
    spawned = time.perf_counter()
    profiler, cpu0, t_first, finished0 = None, None, None, 0
    sampler = None
    deadline = spawned + timeout
    finished = 0
    try:
        while finished < n:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker stopped (exit {worker.returncode}):\n{CHILDREN.log_tail(name, 40)}")
            if time.perf_counter() > deadline:
                raise BenchTimeout(f"{name}: {finished}/{n} done after {timeout:.0f} s\n{CHILDREN.log_tail(name, 40)}")
            time.sleep(poll)
            started, finished = progress()
            if started and cpu0 is None:
                cpu0, t_first, finished0 = c.cpu_snapshot(), time.perf_counter(), finished
                sampler = ActivitySampler()
                sampler.start()
                if py_spy is not None:
                    py_spy.mkdir(parents=True, exist_ok=True)
                    profiler = c.start_py_spy(CHILDREN, f"py-spy-{name}", worker.pid, py_spy / f"{name}.txt")
        t_done = time.perf_counter()
        cpu1 = c.cpu_snapshot()
        activity = sampler.finish()
    finally:
        if profiler is not None:
            CHILDREN.stop(profiler, timeout=30, sig=signal.SIGINT)
        CHILDREN.stop(worker)
    groups = cpu_by_group(cpu0, cpu1, worker.pid)
    window = t_done - t_first
    return {"wall": t_done - spawned, "wall_rate": n / (t_done - spawned), "busy_before": busy,
            "cpu": groups, "cpu_window": window, "cpu_cores": cores(groups, window),
            "worker_cpu_ms": groups.get("worker", 0.0) / max(1, n - finished0) * 1000, "activity": activity}


def run_noop(project: Project, n: int, *, py_spy: Path | None) -> dict:
    """Celery's own floor on this worker app: `celery.accumulate` (returns its args; Conveyor's task
    base, acks_late, events), no job row, no database."""
    client = redis.Redis.from_url(BROKER_URL)
    with project.celery.producer_or_acquire() as producer:
        for _ in range(n):
            project.celery.send_task("celery.accumulate", args=[], queue="billing", producer=producer)
    marks: dict[str, float] = {}

    def progress():
        left = client.llen("billing") + client.hlen("unacked")
        if left < n and "first" not in marks:
            marks["first"] = time.perf_counter()
        if left == 0:
            marks["last"] = time.perf_counter()
        return n - left, n - left

    run = drive_worker("noop", n, progress, py_spy=py_spy, timeout=120, poll=0.02)
    seconds = marks["last"] - marks["first"]
    return {**run, "n": n, "seconds": seconds, "rate": n / seconds, "ok": True,
            "check": f"{n} messages consumed and acked (queue and unacked empty)"}


def run_jobs(project: Project, name: str, owners: list[int], *, kind: str = "billing.charge",
             py_spy: Path | None, timeout: float) -> dict:
    """Submit and publish one job per entry of `owners`, then let one worker run them all."""
    n = len(owners)
    charge = kind == "billing.charge"
    charged: dict[int, int] = {}
    for owner in owners:
        charged[owner] = charged.get(owner, 0) + (1 if charge else 0)
    before = {owner: project.balance(owner) for owner in charged}
    t = time.perf_counter()
    job_ids = project.submit_jobs(owners, kind)
    log(f"{name}: {n} {kind} jobs submitted in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    project.publish(job_ids, kind)
    log(f"{name}: {n} messages published in {time.perf_counter() - t:.1f} s")

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        def progress():
            return conn.execute(
                "SELECT count(*) FILTER (WHERE status <> 'queued'), "
                "count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'cancelled')) "
                "FROM jobs WHERE id = ANY(%s)", (job_ids,)).fetchone()

        run = drive_worker(name, n, progress, py_spy=py_spy, timeout=timeout, poll=0.1)
        row = conn.execute(
            "SELECT min(started_at), max(finished_at), count(*) FILTER (WHERE status = 'succeeded'), "
            "count(*) FILTER (WHERE attempts > 1), "
            "avg(extract(epoch FROM finished_at - started_at)), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)) "
            "FROM jobs WHERE id = ANY(%s)", (job_ids,)).fetchone()
        first_start, last_finish, succeeded, retried, mean_run, p99_run = row
        errors = conn.execute("SELECT error->>'code', count(*) FROM jobs WHERE id = ANY(%s) AND status <> "
                              "'succeeded' GROUP BY 1", (job_ids,)).fetchall()
    span = (last_finish - first_start).total_seconds()

    after = {owner: project.balance(owner) for owner in charged}
    wrong = [o for o in charged if before[o] - after[o] != charged[o]]
    transfers = project.charge_transfers(job_ids)
    mismatches = project.reconcile()
    ok = succeeded == n and not wrong and transfers == (n if charge else 0) and not mismatches
    check = (f"{succeeded}/{n} succeeded, {len(charged) - len(wrong)}/{len(charged)} wallets down by exactly "
             f"their charges (total {sum(before.values()) - sum(after.values())}), {transfers} charge transfers, "
             f"reconcile: {len(mismatches)} mismatches, {retried} jobs retried")
    if errors:
        check += f", errors: {dict(errors)}"
    if mismatches:
        check += f", first mismatches: {mismatches[:3]}"
    return {**run, "n": n, "seconds": span, "rate": n / span, "ok": ok, "check": check,
            "mean_run_ms": float(mean_run) * 1000, "p99_run_ms": float(p99_run) * 1000}


# --------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=1000 instead of 5000")
    parser.add_argument("-n", type=int, default=None, help="number of charges per phase")
    parser.add_argument("--py-spy", type=Path, default=None, metavar="DIR",
                        help="record the worker with py-spy (raw collapsed stacks) into DIR; slows it down")
    parser.add_argument("--ledger-only", action="store_true",
                        help="only the raw baseline and the ledger phases (no worker, no jobs)")
    parser.add_argument("--no-floors", action="store_true",
                        help="skip the two context rows (Celery no-op task, no-op `ping` job; min(N, 2000) each)")
    try:
        args = parser.parse_args()
    except SystemExit:  # --help or a bad argument: the guards that clean up are not installed yet
        CHILDREN.cleanup()
        raise
    n = args.n or (1000 if args.quick else 5000)
    c.install_guards(CHILDREN, 900 if args.quick else 1800)
    CHILDREN.keep_logs = True  # until we finish cleanly
    began = time.perf_counter()
    job_timeout = 100 if args.quick else 180

    log(f"resetting {DB_NAME} and {BROKER_URL}, migrating")
    reset_stores()
    project = Project()

    log("creating users: the raw-baseline account, the hot wallets (jobs, ledger), the spread wallets")
    raw_user = project.create_users("raw", 1, n + 100)[0]
    raw_account = project.purchased_account_id(raw_user)
    hot_user = project.create_users("hot", 1, n + 100)[0]
    ledger_user = project.create_users("ledger", 1, 2 * n + 100)[0]
    spread_users = ([] if args.ledger_only else
                    project.create_users("spread", SPREAD_USERS, math.ceil(n / SPREAD_USERS) + 10))
    log(f"users ready ({time.perf_counter() - began:.1f} s)")

    wait_for_quiet()
    raw_runs = [run_raw(project, raw_account, raw_user, n)]
    log(f"raw #1: {raw_runs[0]['rate']:.0f} updates/s ({raw_runs[0]['check']})")

    noop = ping = hot = spread = None
    if not args.ledger_only:
        if not args.no_floors:
            floor_n = min(n, 2000)  # steady-state rates; fewer jobs keep the run short
            noop = run_noop(project, floor_n, py_spy=args.py_spy)
            log(f"celery no-op: {noop['rate']:.0f} tasks/s")
            ping = run_jobs(project, "ping", [hot_user] * floor_n, kind="ping", py_spy=args.py_spy,
                            timeout=job_timeout)
            log(f"ping jobs: {ping['rate']:.0f} jobs/s ({ping['check']})")

        hot = run_jobs(project, "hot", [hot_user] * n, py_spy=args.py_spy, timeout=job_timeout)
        log(f"hot: {hot['rate']:.0f} charges/s ({hot['check']})")

        owners = [spread_users[i % len(spread_users)] for i in range(n)]
        spread = run_jobs(project, "spread", owners, py_spy=args.py_spy, timeout=job_timeout)
        log(f"spread: {spread['rate']:.0f} charges/s ({spread['check']})")

    wait_for_quiet()
    ledger_charge = run_ledger(project, "charge", ledger_user, n, py_spy=args.py_spy)
    log(f"ledger charge: {ledger_charge['rate']:.0f} operations/s ({ledger_charge['check']})")
    wait_for_quiet()
    ledger_pair = run_ledger(project, "hold+capture", ledger_user, n, py_spy=args.py_spy)
    log(f"ledger hold+capture: {ledger_pair['rate']:.0f} operations/s ({ledger_pair['check']})")

    wait_for_quiet()
    raw_runs.append(run_raw(project, raw_account, raw_user, n))
    log(f"raw #2: {raw_runs[1]['rate']:.0f} updates/s ({raw_runs[1]['check']})")
    raw = max(raw_runs, key=lambda r: r["rate"])

    # ---- the table --------------------------------------------------------------------------
    rows = [("raw SQL, 1 hot row (#1)", raw_runs[0], "updates/s"),
            ("raw SQL, 1 hot row (#2)", raw_runs[1], "updates/s")]
    if noop:
        rows += [("ctx: Celery no-op task", noop, "tasks/s"), ("ctx: no-op `ping` job", ping, "jobs/s")]
    if hot:
        rows += [("jobs: charge, 1 hot wallet", hot, "charges/s"),
                 (f"jobs: charge, {SPREAD_USERS} wallets", spread, "charges/s")]
    rows += [("ledger: charge, 1 hot wallet", ledger_charge, "ops/s"),
             ("ledger: hold+capture, 1 hot", ledger_pair, "ops/s")]
    print()
    print(f"Billing throughput: N={n} per phase, {CONCURRENCY} worker processes / {CONCURRENCY} SQL clients, "
          f"{os.cpu_count()} cores, PostgreSQL {DB_NAME}, Redis db 10")
    print()
    header = (f"{'phase':<30} {'N':>6} {'seconds':>8} {'rate':>8}  {'unit':<10} {'vs raw':>7} "
              f"{'worker CPU/op':>13}  {'ok':<3}")
    print(header)
    print("-" * len(header))
    for label, r, unit in rows:
        ratio = r["rate"] / raw["rate"]
        per_op = f"{r['worker_cpu_ms']:.2f} ms" if "worker_cpu_ms" in r else "-"
        print(f"{label:<30} {r['n']:>6} {r['seconds']:>8.2f} {r['rate']:>8.0f}  {unit:<10} {ratio:>7.3f} "
              f"{per_op:>13}  {'yes' if r['ok'] else 'NO':<3}")
    print()
    print(f"raw baseline used for ratios: {raw['rate']:.0f} updates/s (the higher of the two raw runs)")
    print("seconds: raw = first client start to last client end; jobs = first claim (jobs.started_at) to last "
          "finish (jobs.finished_at); Celery no-op = first message taken to queue drained.")
    print()
    print("CPU cores busy during each phase (2 = the whole machine):")
    for label, r, _ in rows:
        print(f"  {label:<30} {r['cpu_cores']}")
    print()
    print("Measured DB sessions by state, mean count (pg_stat_activity every 50 ms; raw: the 2 clients):")
    for label, r, _ in rows:
        print(f"  {label:<30} {r['activity'] or '-'}")
    print()
    for label, r, _ in rows:
        if "mean_run_ms" in r:
            print(f"{label}: per-job claim->finish mean {r['mean_run_ms']:.1f} ms, p99 {r['p99_run_ms']:.1f} ms; "
                  f"wall incl. worker start {r['wall']:.1f} s; machine busy before start {r['busy_before']:.0%}")
    print()
    for label, r, _ in rows:
        print(f"check {label}: {r['check']}")
    print()
    if hot:
        hot_ratio = hot["rate"] / raw["rate"]
        print(f"hot wallet jobs / raw SQL = {hot_ratio:.3f}  (goal >= {GOAL}): "
              f"{'MET' if hot_ratio >= GOAL else 'NOT MET'}")
        print(f"{SPREAD_USERS} wallets jobs / raw SQL = {spread['rate'] / raw['rate']:.3f}")
    for label, r in (("charge", ledger_charge), ("hold+capture", ledger_pair)):
        ratio = r["rate"] / raw["rate"]
        print(f"ledger only, {label}, 1 hot wallet / raw SQL = {ratio:.3f} operations  (goal >= {GOAL}): "
              f"{'MET' if ratio >= GOAL else 'NOT MET'}")
    print(f"  (hold+capture: {ledger_pair['rate'] / 2:.0f} LLM calls/s of ledger work on one wallet)")
    if ping:
        print(f"no-op ping job / raw SQL = {ping['rate'] / raw['rate']:.3f}  (the job machinery alone, no billing)")
    all_ok = all(r["ok"] for _, r, _ in rows)
    print(f"correctness: {'all checks passed' if all_ok else 'CHECKS FAILED'}")
    print(f"total time {time.perf_counter() - began:.0f} s")
    if args.py_spy:
        print(f"py-spy profiles (raw collapsed stacks, one file per phase): {args.py_spy}")
    sys.stdout.flush()
    CHILDREN.keep_logs = not all_ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    c.run(main)
