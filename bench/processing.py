"""Processing throughput: how fast one worker drains a backlog of ping jobs vs bare no-op Celery tasks,
and vs a durable-queue peer.

Both Celery sides run as the Procfile's worker line runs (`python -m worker jobs`: prefork,
WORKER_CONCURRENCY=2, the line's queues, --without-gossip --without-mingle), with Conveyor's own
Celery configuration (acks_late, prefetch multiplier 1, json, task_ignore_result, task events): see
bench/bare_celery.py. The bare side is the same command with `-A bench.bare_celery`.

1. Baseline: publish N `bench.noop` messages with no worker running, start the bare worker, time the
   drain. Start = the first moment the queue is shorter than N (the worker took its first message);
   end = the queue is empty and nothing is left unacknowledged (Redis `LLEN default` = 0 and
   `HLEN unacked` = 0: with acks_late a message leaves `unacked` only after its task returned).
   Polled every 5 ms, from this process; nothing is added to the task.
2. Conveyor: insert N queued ping jobs (sleep 0) straight into PostgreSQL (the rows and `queued`
   events `services.jobs.submit` writes, in bulk), publish their messages (`conveyor.jobs.ping`,
   task id = job id) with no worker running, start Conveyor's worker, and time the drain from the
   same start to the moment the database shows all N jobs finished (`SELECT count(*) ... WHERE
   status IN ('queued', 'running')` = 0, then a check that all N succeeded). So as not to load
   PostgreSQL, the database is polled every 0.5 s until the broker looks drained, then every 5 ms.
3. The peer: procrastinate 3.10 (jobs in PostgreSQL, no broker), tuned for these 2 cores: 3 worker
   processes x concurrency 4 draining N no-op jobs (bench/peer_procrastinate.py; needs the `bench`
   extra, skipped without it or with --no-peer).

Both Celery sides are measured with task events as configured (on), and again with
`worker.send_task_events=False` (`--events config` skips that).

    .venv/bin/python bench/processing.py                # N = 10,000, ~4 min
    .venv/bin/python bench/processing.py --quick        # N = 2,000, ~1 min
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as c  # noqa: E402

try:  # the peer needs the `bench` extra: pip install -e '.[bench]'
    from bench.peer_procrastinate import drain_procrastinate
except ImportError:
    drain_procrastinate = None

GOAL = 0.8
PAYLOAD = {"sleep_ms": 0, "steps": 0, "fail_times": 0}
STALL_SECONDS = 60  # no progress for this long: the run has failed


def publish(task_name: str, ids: list[str]) -> float:
    """Publish one message per id (its id and only argument), as Conveyor's dispatch does. Seconds taken."""
    from bench.bare_celery import app

    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for ident in ids:
            app.send_task(task_name, args=[ident], queue=c.WORKER_QUEUE, task_id=ident, producer=producer)
    return time.perf_counter() - started


def wait_first_taken(r, n: int, worker, children, name: str) -> float:
    """perf_counter time at which the queue first held fewer than n messages."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if r.llen(c.WORKER_QUEUE) < n:
            return time.perf_counter()
        if worker.poll() is not None:
            raise RuntimeError(f"{name} exited with {worker.returncode}:\n{children.log_tail(name)}")
        time.sleep(0.002)
    raise RuntimeError(f"{name} took no message within 90 s:\n{children.log_tail(name)}")


def broker_empty(r) -> bool:
    pipe = r.pipeline(transaction=False)
    pipe.llen(c.WORKER_QUEUE)
    pipe.hlen("unacked")
    queued, unacked = pipe.execute()
    return queued == 0 and unacked == 0


def drain_bare(children, env, n: int, profile: Path | None, task_events: bool = True) -> dict:
    r = c.redis_client()
    c.flush_redis()
    ids = [str(uuid.uuid4()) for _ in range(n)]
    publish_s = publish("bench.noop", ids)
    assert r.llen(c.WORKER_QUEUE) == n, r.llen(c.WORKER_QUEUE)
    c.wait_for_quiet(max_wait=20)
    worker = c.start_worker(children, "bare-worker", "bench.bare_celery", env, task_events)
    spy = start_profiler(children, worker, profile)
    t0 = wait_first_taken(r, n, worker, children, "bare-worker")
    window, busy0 = c.CpuWindow(children), c.cpu_times()
    last_progress, last_left = time.monotonic(), n
    while True:
        if broker_empty(r):
            t1 = time.perf_counter()
            break
        left = r.llen(c.WORKER_QUEUE)
        if left != last_left:
            last_progress, last_left = time.monotonic(), left
        elif time.monotonic() - last_progress > STALL_SECONDS:
            raise RuntimeError(f"bare worker stalled with {left} messages left:\n{children.log_tail('bare-worker')}")
        time.sleep(0.005)
    busy = c.machine_busy(busy0, c.cpu_times())
    window.stop()
    stop_profiler(children, spy)
    children.stop(worker)
    errors = _worker_errors(children, "bare-worker")
    return {"n": n, "seconds": t1 - t0, "rate": n / (t1 - t0), "publish_s": publish_s, "busy": busy,
            "window": window, "errors": errors}


def create_jobs(env, n: int) -> list[str]:
    """N queued ping jobs and their `queued` events, as services.jobs.submit writes them (in bulk)."""
    c.use_env_here(env)
    from sqlalchemy import insert, text

    from config import load_settings
    from models import Job, JobEvent, JobStatus, Role, User
    from models.base import utcnow
    from models.database import make_database
    from services.jobs import fingerprint

    settings = load_settings()
    db = make_database(settings.database_url)
    try:
        with db.Session.begin() as session:
            session.execute(text("TRUNCATE jobs, job_events, users CASCADE"))
        with db.Session.begin() as session:
            user = User(email=f"bench-{uuid.uuid4().hex[:8]}@example.com", password_hash="!", role=Role.customer)
            session.add(user)
            session.flush()
            owner_id = user.id
        ids = [uuid.uuid4() for _ in range(n)]
        digest = fingerprint("ping", PAYLOAD)
        now = utcnow()
        for start in range(0, n, 2000):
            chunk = ids[start:start + 2000]
            with db.Session.begin() as session:
                session.execute(insert(Job), [
                    {"id": ident, "kind": "ping", "owner_id": owner_id, "queue": "default", "payload": PAYLOAD,
                     "max_attempts": settings.job_max_attempts, "idempotency_key": None,
                     "request_fingerprint": digest, "status": JobStatus.queued, "created_at": now,
                     "available_at": now, "dispatched_at": now} for ident in chunk])
                session.execute(insert(JobEvent), [
                    {"job_id": ident, "attempt": 0, "event": "queued", "detail": None, "at": now} for ident in chunk])
    finally:
        db.engine.dispose()
    return [str(i) for i in ids]


def drain_jobs(children, env, n: int, profile: Path | None, task_events: bool = True) -> dict:
    r = c.redis_client()
    c.flush_redis()
    ids = create_jobs(env, n)
    publish_s = publish("conveyor.jobs.ping", ids)
    assert r.llen(c.WORKER_QUEUE) == n, r.llen(c.WORKER_QUEUE)
    pg = c.pg_connect()
    c.wait_for_quiet(max_wait=20)
    worker = c.start_worker(children, "worker", "worker.app", env, task_events)
    spy = start_profiler(children, worker, profile)
    t0 = wait_first_taken(r, n, worker, children, "worker")
    window, busy0 = c.CpuWindow(children), c.cpu_times()
    # The database is the judge of "succeeded", but a count over a table under churn every few ms
    # would load PostgreSQL: poll the broker (cheap) every 5 ms and the database every 0.5 s, then
    # every 5 ms once the broker is drained (with acks_late, every task has returned by then).
    t_broker = None
    last_progress, last_left, next_db = time.monotonic(), n, 0.0
    unfinished = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"
    while True:
        now_mono = time.monotonic()
        if t_broker is None and broker_empty(r):
            t_broker = time.perf_counter()
        if t_broker is not None or now_mono >= next_db:
            next_db = now_mono + 0.5
            left = pg.execute(unfinished).fetchone()[0]
            if left == 0:
                t1 = time.perf_counter()
                break
            if left != last_left:
                last_progress, last_left = now_mono, left
            elif now_mono - last_progress > STALL_SECONDS:
                raise RuntimeError(f"worker stalled with {left} jobs unfinished:\n{children.log_tail('worker')}")
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.returncode}:\n{children.log_tail('worker')}")
        time.sleep(0.005)
    busy = c.machine_busy(busy0, c.cpu_times())
    window.stop()
    if t_broker is None:  # the database saw the end first (the last acks were still on their way)
        deadline = time.monotonic() + 10
        while not broker_empty(r) and time.monotonic() < deadline:
            time.sleep(0.005)
        t_broker = time.perf_counter()
    stop_profiler(children, spy)
    children.stop(worker)
    statuses = dict(pg.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall())
    attempts = pg.execute("SELECT max(attempts) FROM jobs").fetchone()[0]
    span = pg.execute("SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM jobs").fetchone()[0]
    events = pg.execute("SELECT count(*) FROM job_events").fetchone()[0]
    pg.close()
    return {"n": n, "seconds": t1 - t0, "rate": n / (t1 - t0), "broker_seconds": t_broker - t0,
            "db_span": float(span), "publish_s": publish_s, "busy": busy, "window": window, "statuses": statuses,
            "max_attempts": attempts, "events": events, "errors": _worker_errors(children, "worker")}


def _worker_errors(children, name: str) -> list[str]:
    lines = children.log_tail(name, 2000).splitlines()
    return [ln for ln in lines if "ERROR" in ln or "Traceback" in ln or "CRITICAL" in ln][:5]


def start_profiler(children, worker, out: Path | None):
    """Optional: py-spy over the worker and its pool children (slows them down; for finding hot spots)."""
    if out is None:
        return None
    time.sleep(1.5)  # let the pool fork its children first
    return c.start_py_spy(children, f"py-spy-{worker.pid}", worker.pid, out)


def stop_profiler(children, spy) -> None:
    if spy is not None:
        import signal

        children.stop(spy, timeout=30, sig=signal.SIGINT)  # py-spy writes its output on SIGINT


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N = 2,000 (smoke test)")
    ap.add_argument("--jobs", type=int, help="N, the backlog size on each side (default 10,000; quick 2,000)")
    ap.add_argument("--events", choices=["both", "config"], default="both",
                    help="config: only Conveyor's configuration (task events on); both (default): also both "
                         "sides again with `worker.send_task_events=False`, to show what the events cost")
    ap.add_argument("--profile-dir", type=Path,
                    help="record py-spy flame graphs of the workers there (slows them: figures not comparable)")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the benchmark database at the end")
    ap.add_argument("--no-peer", action="store_true", help="skip the durable-queue peer (procrastinate)")
    ap.add_argument("--concurrency", type=int, help="WORKER_CONCURRENCY of the worker line, both sides "
                                                    "(default: the setting's default)")
    args = ap.parse_args()
    n = args.jobs or (2000 if args.quick else 10000)
    settings = [True] if args.events == "config" else [True, False]

    children = c.Children()
    c.install_guards(children, limit_seconds=480 if n <= 10000 else 1500)
    env = c.base_env(children, **({"WORKER_CONCURRENCY": str(args.concurrency)} if args.concurrency else {}))
    c.use_env_here(env)  # this process publishes with the same Celery settings
    background = c.background_busy()
    c.log(f"N = {n}, database {c.DATABASE_URL}, broker {c.BROKER_URL}; machine busy before start: "
          f"{100 * background:.0f}%")
    c.reset_database(env)
    if args.profile_dir:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[tuple[str, bool], dict] = {}
    peer = None
    try:
        for events in settings:
            tag = "events" if events else "no-events"
            for side, drain in (("bare", drain_bare), ("conveyor", drain_jobs)):
                profile = args.profile_dir / f"{side}-{tag}.svg" if args.profile_dir else None
                res = drain(children, env, n, profile, task_events=events)
                runs[(side, events)] = res
                c.log(f"{side} ({tag}): {res['rate']:.0f}/s ({res['seconds']:.2f} s); CPU {res['window'].summary()}")
        if not args.no_peer and drain_procrastinate is not None:
            peer = drain_procrastinate(children, env, n)
            c.log(f"procrastinate ({peer['config']}): {peer['rate']:.0f}/s; CPU {peer['window'].summary()}")
    finally:
        c.teardown(children, args.keep_db)

    print()
    print(f"code: {c.code_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"Processing throughput (N = {n} a side; the Procfile's worker line, `python -m worker jobs`: prefork "
          f"-c 2, prefetch multiplier 1, acks_late, json, ignore_result; Redis broker; {os.cpu_count()} cores)")
    print(f"{'':<27}{'per s':>8}{'ms each':>9}{'drain s':>9}{'busy':>6}   CPU during the drain")
    for events in settings:
        for side in ("bare", "conveyor"):
            r = runs[(side, events)]
            label = f"{side} ({'task events on' if events else 'task events off'})"
            print(f"{label:<27}{r['rate']:8.1f}{1e3 / r['rate']:9.2f}{r['seconds']:9.2f}{100 * r['busy']:5.0f}%   "
                  f"{r['window'].summary()}")
    ratio = runs[("conveyor", True)]["rate"] / runs[("bare", True)]["rate"]
    print(c.ratio_line("ratio conveyor/bare, Conveyor's Celery configuration on both sides (task events on)",
                       ratio, GOAL))
    if False in settings:
        off = runs[("conveyor", False)]["rate"] / runs[("bare", False)]["rate"]
        print(c.ratio_line("ratio conveyor/bare, task events off on both sides", off, GOAL))
        print(f"task events cost: bare {runs[('bare', True)]['rate']:.0f} -> {runs[('bare', False)]['rate']:.0f}/s "
              f"without them, conveyor {runs[('conveyor', True)]['rate']:.0f} -> "
              f"{runs[('conveyor', False)]['rate']:.0f}/s; conveyor as configured vs bare Celery without events: "
              f"{runs[('conveyor', True)]['rate'] / runs[('bare', False)]['rate']:.3f}")
    if peer is not None:
        print(f"{'procrastinate (peer)':<27}{peer['rate']:8.1f}{1e3 / peer['rate']:9.2f}{peer['seconds']:9.2f}"
              f"{100 * peer['busy']:5.0f}%   {peer['window'].summary()}   [{peer['config']}]")
        for events in settings:
            print(c.ratio_line(f"ratio conveyor/procrastinate (Conveyor with task events "
                               f"{'on' if events else 'off'})", runs[("conveyor", events)]["rate"] / peer["rate"], 1.0))
    ok = True
    if peer is not None:
        for line in peer["errors"]:  # includes "not all N jobs succeeded"
            ok = False
            print(f"procrastinate worker error: {line[:300]}")
        warning = c.noise_warning(peer["window"])
        if warning:
            print(f"procrastinate: {warning}")
    for events in settings:
        jobs = runs[("conveyor", events)]
        print(f"cross-checks ({'events on' if events else 'events off'}): conveyor broker drained after "
              f"{jobs['broker_seconds']:.2f} s vs database after {jobs['seconds']:.2f} s; the jobs' own timestamps "
              f"span {jobs['db_span']:.2f} s ({n / jobs['db_span']:.1f} jobs/s); statuses {jobs['statuses']}, "
              f"max attempts {jobs['max_attempts']}, {jobs['events']} job events")
        ok = ok and jobs["statuses"].get("succeeded") == n
        for side in ("bare", "conveyor"):
            for line in runs[(side, events)]["errors"]:
                ok = False
                print(f"{side} worker error: {line[:300]}")
            warning = c.noise_warning(runs[(side, events)]["window"])
            if warning:
                print(f"{side} ({'events on' if events else 'events off'}): {warning}")
    print(f"setup (not timed): publishing {n} messages took {runs[('bare', True)]['publish_s']:.1f} s (bare) and "
          f"{runs[('conveyor', True)]['publish_s']:.1f} s (conveyor)")
    if args.profile_dir:
        print(f"py-spy flame graphs in {args.profile_dir} (the figures above include py-spy's overhead)")
    if not ok:
        print("WARNING: not every job succeeded, or a worker logged errors; the figures are suspect")
    return 0 if ok else 1


if __name__ == "__main__":
    c.run(main)
