"""Peer baseline: how fast procrastinate 3.10.0 (jobs kept in PostgreSQL) drains N queued no-op jobs.

A durable-queue peer to compare with Conveyor: like Conveyor, procrastinate keeps every job's state in
PostgreSQL and commits each transition; unlike Conveyor it needs no broker (workers claim jobs with
`SELECT ... FOR UPDATE SKIP LOCKED` in a PL/pgSQL function).

Set-up (not timed), for each measurement:

- procrastinate's own schema (`SchemaManager.get_schema()`, tables `procrastinate_*`) is applied in a
  PostgreSQL schema of its own, `procrastinate` (`BENCH_PROCRASTINATE_SCHEMA`), of the benchmark
  database (`c.DATABASE_URL`); it is dropped and re-created first. Every connection of the app gets
  `search_path=procrastinate`, so nothing clashes with Conveyor's Alembic tables in `public`.
- N jobs of the no-op task are deferred in bulk with no worker running (`Task.batch_defer_async`,
  chunks of 2,000 jobs, one `procrastinate_defer_jobs_v1` call each), then the two tables are ANALYZEd.

Measurement: `processes` worker processes, each `python -m procrastinate --app=bench.peer_procrastinate.app
--log-level warning worker --queues default --concurrency K ...` (asyncio, one event loop per process),
started as children (c.Children: killed on exit). Start = the first job taken (the first `started` event
row: `max(id)` of `procrastinate_events` grows past the N `deferred` events, polled every 2 ms). End = no
job `todo` or `doing` (an exact `count(*)`, every 0.5 s while the event ids say many jobs are left, then
every 5 ms); then a check that all N jobs are `succeeded` and no worker logged an error. The CPU window
(c.CpuWindow) runs from start to end.

The task: `bench.noop`, an `async def` that returns None (procrastinate runs async tasks on the worker's
event loop; a plain `def` task goes through asgiref's `sync_to_async` thread hop: `--sync-task`). Like
the Celery side, it gets one small argument (a uuid string) and does nothing with it. Workers run with
procrastinate's defaults otherwise: jobs are kept (`delete_jobs=never`), heartbeats every 10 s, abort
polling every 5 s, synchronous commits (durable, as Conveyor's finish), LISTEN/NOTIFY on.

    python bench/peer_procrastinate.py                          # N = 10,000, the tuned default (3 x 4)
    python bench/peer_procrastinate.py --jobs 2000 --processes 3 --concurrency 4
    python bench/peer_procrastinate.py --sweep 1x4,2x4,3x4 --repeat 2   # tuning

Run alone it uses its own database, `procrastinate_bench` (BENCH_DB_NAME), created and dropped here.
Needs procrastinate in the running interpreter's environment (`pip install -e '.[bench]'`).

Tuning on this 2-core machine (N = 10,000, 2026-11-22, procrastinate 3.10.0, PostgreSQL 15, only runs
where other processes used < 5% of the machine; jobs/s, every run listed, median in brackets; CPU per
job: worker processes + PostgreSQL backends, from c.CpuWindow). The machine is shared: the same
configuration spread by up to +-15% from run to run (fsync-bound commits are sensitive to other
people's disk I/O, which the CPU accounting does not show).

  processes x concurrency, procrastinate's connector as shipped, async no-op task, LISTEN/NOTIFY on:
    1 x 4   347, 384, 459, 354                    [369]   one event loop waits on PostgreSQL, 65% busy
    2 x 2   541, 512                              [527]
    2 x 4   554, 534, 532, 492, 648               [534]
    2 x 8   542
    3 x 4   562, 553, 562, 600, 538, 581, 504, 447 [558]  about 1.9 + 1.3 ms CPU per job  <- default
    3 x 8   577, 446
    4 x 4   673, 550, 446, 510                    [530]
    6 x 2   533
  From 2 processes on, the machine is 90-99% busy: procrastinate is CPU-bound here at ~3 ms of CPU per
  job (worker ~1.6-2.0 ms, PostgreSQL ~1.1-1.4 ms), so more processes or concurrency add nothing; one
  process cannot go past ~400-450/s because its fetch loop claims one job per round trip and waits for
  it (procrastinate 3.10 has no batch fetch: `procrastinate_fetch_job_v2` returns one job).
  Concurrency above 4 does not help (a no-op job holds its slot for ~1 ms).

  Options at 3 x 4 (not adopted):
    --no-listen-notify --polling-interval 0.1  554 (same as default: with a backlog the fetch loop never
                                               waits for a notification or the polling interval)
    --sync-task (plain `def` task)             452 (asgiref thread hop: +0.6 ms of worker CPU per job)
    --autocommit                               586, 624
    --autocommit --no-pool-check               873, 754, 630, 789, 746, 875, 665 [754]; about 1.3 + 1.0 ms
                                               CPU per job (also 2 x 4: 550, 651, 704; 4 x 4: 686, 823, 780, 865)
  --autocommit and --no-pool-check are psycopg-pool settings passed through PsycopgConnector, not
  procrastinate options: the first drops the BEGIN/COMMIT round trips around each (single-statement)
  query, the second drops the connection check procrastinate itself asks the pool to run at every
  checkout (which it does on purpose, to survive dropped connections). They are reported as the
  peer's ceiling, and kept off by default: the headline is procrastinate as its documentation
  configures it, with the best processes x concurrency for 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__":
    # Run alone: use a database of its own (never the shared conveyor_bench), and run main() from the
    # module imported under its real name, so that the parent defers through the same `app` object the
    # workers load (`bench.peer_procrastinate.app`), not a second App defined in `__main__`.
    os.environ.setdefault("BENCH_DB_NAME", "procrastinate_bench")
    from bench import _common, peer_procrastinate

    _common.run(peer_procrastinate.main)

import procrastinate  # noqa: E402
import psycopg_pool  # noqa: E402

from bench import _common as c  # noqa: E402

SCHEMA = os.environ.get("BENCH_PROCRASTINATE_SCHEMA", "procrastinate")
QUEUE = "default"
APP_PATH = "bench.peer_procrastinate.app"
STALL_SECONDS = 60  # no progress for this long: the run has failed
DEFER_CHUNK = 2000

# The tuned defaults (see the module docstring).
DEFAULT_PROCESSES = 3
DEFAULT_CONCURRENCY = 4
DEFAULT_LISTEN_NOTIFY = True
DEFAULT_POLLING_INTERVAL = 5.0  # procrastinate's default; only used when no job was found


def _conninfo() -> str:
    """The benchmark database as a libpq URL (BENCH_DATABASE_URL may be written for SQLAlchemy)."""
    return c.DATABASE_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def _pool_factory(**kwargs) -> psycopg_pool.AsyncConnectionPool:
    """procrastinate's pool (psycopg_pool), optionally without its check on every checkout.

    procrastinate passes `check=AsyncConnectionPool.check_connection`: one extra round trip (an empty
    query) each time a connection leaves the pool, i.e. for every fetch and every finish.
    BENCH_PROCRASTINATE_POOL_CHECK=0 (drain_procrastinate(pool_check=False)) drops it: an experiment
    that overrides procrastinate's own choice, not the default."""
    if os.environ.get("BENCH_PROCRASTINATE_POOL_CHECK", "1") == "0":
        kwargs.pop("check", None)
    return psycopg_pool.AsyncConnectionPool(**kwargs)


def _connector() -> procrastinate.PsycopgConnector:
    # Pool: one connection for the fetch loop, one per job being finished, the heartbeat/abort polls.
    # (The LISTEN connection is a separate one.) Default: concurrency + 2, set by drain_procrastinate.
    size = int(os.environ.get("BENCH_PROCRASTINATE_POOL_SIZE", "6"))
    kwargs = {"options": f"-c search_path={SCHEMA}", "application_name": "bench-procrastinate"}
    pool_args = {}
    if os.environ.get("BENCH_PROCRASTINATE_AUTOCOMMIT", "0") == "1":
        # drain_procrastinate(autocommit=True). An experiment, not the default: the pool's
        # connections in autocommit, so a query is not wrapped in BEGIN ... COMMIT (two round
        # trips fewer per fetch and per finish). Every procrastinate query is one statement (a
        # PL/pgSQL function call), so each stays atomic. Through the pool's `configure` hook:
        # `kwargs={"autocommit": True}` breaks procrastinate's LISTEN connection, which passes
        # autocommit=True itself.
        pool_args["configure"] = _set_autocommit
    return procrastinate.PsycopgConnector(conninfo=_conninfo(), kwargs=kwargs, min_size=size, max_size=size,
                                          pool_factory=_pool_factory, **pool_args)


async def _set_autocommit(conn) -> None:
    await conn.set_autocommit(True)


app = procrastinate.App(connector=_connector())


@app.task(name="bench.noop", queue=QUEUE)
async def noop(**_kwargs) -> None:
    return None


@app.task(name="bench.noop_sync", queue=QUEUE)
def noop_sync(**_kwargs) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# Set-up: schema and backlog (not timed).
# ---------------------------------------------------------------------------------------------

def create_database() -> None:
    """Drop and re-create the benchmark database (c.DB_NAME): only when this module runs alone."""
    import psycopg

    with psycopg.connect(c.PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{c.DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{c.DB_NAME}"')


def reset_schema() -> None:
    """Drop and re-create the `procrastinate` schema, then apply procrastinate's schema.sql in it."""
    with c.pg_connect() as pg:
        pg.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        pg.execute(f'CREATE SCHEMA "{SCHEMA}"')

    async def _apply():
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    asyncio.run(_apply())


def defer_backlog(n: int, sync_task: bool = False) -> float:
    """Defer n no-op jobs in bulk (no worker running). Seconds taken."""
    task = noop_sync if sync_task else noop

    async def _defer():
        async with app.open_async():
            for start in range(0, n, DEFER_CHUNK):
                count = min(DEFER_CHUNK, n - start)
                await task.batch_defer_async(*({"ident": str(uuid.uuid4())} for _ in range(count)))

    started = time.perf_counter()
    asyncio.run(_defer())
    elapsed = time.perf_counter() - started
    with c.pg_connect() as pg:
        pg.execute(f'ANALYZE "{SCHEMA}".procrastinate_jobs, "{SCHEMA}".procrastinate_events')
    return elapsed


# ---------------------------------------------------------------------------------------------
# The drain.
# ---------------------------------------------------------------------------------------------

def worker_argv(concurrency: int, name: str, listen_notify: bool, polling_interval: float) -> list[str]:
    return [sys.executable, "-m", "procrastinate", f"--app={APP_PATH}", "--log-level", "warning",
            "worker", "--queues", QUEUE, "--concurrency", str(concurrency), "--name", name,
            "--listen-notify" if listen_notify else "--no-listen-notify",
            "--fetch-job-polling-interval", str(polling_interval)]


def worker_env(env: dict, concurrency: int, pool_size: int | None = None, autocommit: bool = False,
               pool_check: bool = True) -> dict:
    """The workers' environment: the parent's (c.base_env), the same database and schema, the repo on
    the path, and the connector's settings (read when the workers import this module)."""
    pythonpath = os.pathsep.join(p for p in (str(c.ROOT), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": pythonpath, "BENCH_DB_NAME": c.DB_NAME, "BENCH_DATABASE_URL": c.DATABASE_URL,
            "BENCH_PROCRASTINATE_SCHEMA": SCHEMA,
            "BENCH_PROCRASTINATE_POOL_SIZE": str(pool_size or concurrency + 2),
            "BENCH_PROCRASTINATE_AUTOCOMMIT": "1" if autocommit else "0",
            "BENCH_PROCRASTINATE_POOL_CHECK": "1" if pool_check else "0"}


def drain_procrastinate(children, env, n: int, processes: int = DEFAULT_PROCESSES,
                        concurrency: int = DEFAULT_CONCURRENCY, *, listen_notify: bool = DEFAULT_LISTEN_NOTIFY,
                        polling_interval: float = DEFAULT_POLLING_INTERVAL, sync_task: bool = False,
                        pool_size: int | None = None, autocommit: bool = False, pool_check: bool = True) -> dict:
    """Defer n no-op jobs, start `processes` procrastinate workers of `concurrency` each, time the drain.

    Same result keys as processing.py's drain_bare / drain_jobs (n, seconds, rate, busy, window,
    errors, publish_s = the bulk defer's seconds), plus statuses, db_span (first `started` event to
    last `succeeded` event, in seconds), worker_ms / postgres_ms (CPU per job) and config.

    The defaults are the tuned configuration (3 processes x 4, procrastinate's connector as shipped).
    autocommit=True / pool_check=False are the two pool experiments of the module docstring."""
    reset_schema()
    publish_s = defer_backlog(n, sync_task)
    jobs = f'"{SCHEMA}".procrastinate_jobs'
    events = f'"{SCHEMA}".procrastinate_events'
    pg = c.pg_connect()
    try:
        base = pg.execute(f"SELECT coalesce(max(id), 0) FROM {events}").fetchone()[0]
        assert pg.execute(f"SELECT count(*) FROM {jobs} WHERE status = 'todo'").fetchone()[0] == n
        c.wait_for_quiet(max_wait=20)
        wenv = worker_env(env, concurrency, pool_size, autocommit, pool_check)
        names = [f"procrastinate-worker-{i}" for i in range(processes)]
        workers = [children.spawn(name, worker_argv(concurrency, name, listen_notify, polling_interval), wenv)
                   for name in names]

        def check_alive():
            for name, proc in zip(names, workers):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{children.log_tail(name)}")

        last_event = f"SELECT max(id) FROM {events}"
        deadline = time.monotonic() + 90
        while True:  # start: the first job taken (its `started` event)
            if pg.execute(last_event).fetchone()[0] > base:
                t0 = time.perf_counter()
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"no procrastinate worker took a job within 90 s:\n{children.log_tail(names[0])}")
            check_alive()
            time.sleep(0.002)
        window, busy0 = c.CpuWindow(children), c.cpu_times()

        # Each job adds two event rows (started, succeeded): max(id) (an index lookup) tells roughly how
        # far the drain is. The exact count of unfinished jobs runs every 0.5 s, and every 5 ms once
        # the events say fewer jobs are left than the workers hold at once (plus a margin).
        unfinished = f"SELECT count(*) FROM {jobs} WHERE status IN ('todo', 'doing')"
        near_end = 2 * n - 4 * processes * concurrency - 200
        last_progress, last_left, next_exact = time.monotonic(), n, 0.0
        while True:
            now = time.monotonic()
            if now >= next_exact or pg.execute(last_event).fetchone()[0] - base >= near_end:
                next_exact = now + 0.5
                left = pg.execute(unfinished).fetchone()[0]
                if left == 0:
                    t1 = time.perf_counter()
                    break
                if left != last_left:
                    last_progress, last_left = now, left
                elif now - last_progress > STALL_SECONDS:
                    raise RuntimeError(f"procrastinate workers stalled with {left} jobs unfinished:\n"
                                       f"{children.log_tail(names[0])}")
                check_alive()
            time.sleep(0.005)
        busy = c.machine_busy(busy0, c.cpu_times())
        window.stop()
        for proc in workers:
            children.stop(proc)
        statuses = dict(pg.execute(f"SELECT status::text, count(*) FROM {jobs} GROUP BY status").fetchall())
        span = pg.execute(f"SELECT extract(epoch FROM max(at) FILTER (WHERE type = 'succeeded') "
                          f"- min(at) FILTER (WHERE type = 'started')) FROM {events}").fetchone()[0]
    finally:
        pg.close()
    errors = [line for name in names for line in _worker_errors(children, name)][:5]
    if statuses.get("succeeded") != n:
        errors.append(f"not all {n} jobs succeeded: {statuses}")
    groups = window.by_group()
    worker_cpu = sum(v for k, v in groups.items() if k.startswith("procrastinate-worker"))
    postgres_cpu = groups.get("postgres", 0.0) + groups.get("postgres-shared", 0.0)
    return {"n": n, "seconds": t1 - t0, "rate": n / (t1 - t0), "publish_s": publish_s, "busy": busy,
            "window": window, "errors": errors, "statuses": statuses, "db_span": float(span or 0.0),
            "worker_ms": 1e3 * worker_cpu / n, "postgres_ms": 1e3 * postgres_cpu / n,
            "config": config_label(processes, concurrency, listen_notify, polling_interval, sync_task, autocommit,
                                   pool_check)}


def config_label(processes: int, concurrency: int, listen_notify: bool, polling_interval: float,
                 sync_task: bool, autocommit: bool = False, pool_check: bool = True) -> str:
    extra = []
    if not listen_notify:
        extra.append(f"no listen/notify, poll {polling_interval:g} s")
    elif polling_interval != DEFAULT_POLLING_INTERVAL:
        extra.append(f"poll {polling_interval:g} s")
    if sync_task:
        extra.append("sync task")
    if autocommit:
        extra.append("autocommit")
    if not pool_check:
        extra.append("no pool check")
    return f"{processes} x {concurrency}" + (f" ({', '.join(extra)})" if extra else "")


def _worker_errors(children, name: str) -> list[str]:
    lines = children.log_tail(name, 2000).splitlines()
    return [ln for ln in lines if "ERROR" in ln or "Traceback" in ln or "CRITICAL" in ln][:5]


def result_line(res: dict) -> str:
    return (f"{res['config']:<34}{res['rate']:8.1f}/s{1e3 / res['rate']:7.2f} ms{res['seconds']:8.2f} s"
            f"{100 * res['busy']:5.0f}%  worker {res['worker_ms']:.2f} + postgres {res['postgres_ms']:.2f} "
            f"ms CPU/job  span {res['db_span']:.2f} s   {res['window'].summary()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N = 2,000 (smoke test)")
    ap.add_argument("--jobs", type=int, help="N, the backlog (default 10,000; quick 2,000)")
    ap.add_argument("--processes", type=int, default=DEFAULT_PROCESSES, help="worker processes")
    ap.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="jobs at once per worker")
    ap.add_argument("--no-listen-notify", action="store_true", help="workers poll instead of LISTEN")
    ap.add_argument("--polling-interval", type=float, default=DEFAULT_POLLING_INTERVAL,
                    help="--fetch-job-polling-interval of the workers (s)")
    ap.add_argument("--sync-task", action="store_true", help="a plain `def` no-op task instead of `async def`")
    ap.add_argument("--pool-size", type=int, help="connections per worker (default concurrency + 2)")
    ap.add_argument("--autocommit", action="store_true",
                    help="experiment: the pool's connections in autocommit (no BEGIN/COMMIT around each query)")
    ap.add_argument("--no-pool-check", action="store_true",
                    help="experiment: drop the connection check procrastinate runs at every pool checkout")
    ap.add_argument("--sweep", help="comma-separated PxC configurations to measure in turn, e.g. 1x4,2x4,3x4")
    ap.add_argument("--repeat", type=int, default=1, help="measure each configuration this many times")
    ap.add_argument("--noisy-retries", type=int, default=2,
                    help="measure a configuration again (at most this many times) when other processes took "
                         "more than 5%% of the machine during its drain")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    args = ap.parse_args()
    n = args.jobs or (2000 if args.quick else 10000)
    configs = ([tuple(int(x) for x in item.lower().split("x")) for item in args.sweep.split(",")]
               if args.sweep else [(args.processes, args.concurrency)])

    children = c.Children(prefix="procrastinate-bench-")
    runs = len(configs) * args.repeat
    c.install_guards(children, limit_seconds=120 + runs * (1 + args.noisy_retries) * (60 + 3 * n / 100))
    env = c.base_env(children)
    c.log(f"N = {n}, procrastinate {procrastinate.__version__}, database {c.DATABASE_URL} (schema {SCHEMA}); "
          f"machine busy before start: {100 * c.background_busy():.0f}%")
    create_database()
    results = []
    try:
        for _ in range(args.repeat):
            for processes, concurrency in configs:
                for attempt in range(1 + args.noisy_retries):
                    res = drain_procrastinate(children, env, n, processes, concurrency,
                                              listen_notify=not args.no_listen_notify,
                                              polling_interval=args.polling_interval, sync_task=args.sync_task,
                                              pool_size=args.pool_size, autocommit=args.autocommit,
                                              pool_check=not args.no_pool_check)
                    c.log(f"procrastinate {res['config']}: {res['rate']:.0f}/s ({res['seconds']:.2f} s); "
                          f"CPU {res['window'].summary()}")
                    if not c.noise_warning(res["window"]) or attempt == args.noisy_retries:
                        break
                    c.log("other processes took more than 5% of the machine: measuring this one again")
                results.append(res)
    finally:
        children.stop_all()
        if not args.keep_db:
            c.drop_database()

    print()
    print(f"code: {c.code_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"procrastinate {procrastinate.__version__} drain (N = {n}; PostgreSQL {c.DATABASE_URL}, schema {SCHEMA}; "
          f"{os.cpu_count()} cores)")
    print(f"{'configuration':<34}{'per s':>10}{'each':>10}{'drain':>10}{'busy':>6}")
    ok = True
    for res in results:
        print(result_line(res))
        for line in res["errors"]:
            ok = False
            print(f"  worker error: {line[:300]}")
        warning = c.noise_warning(res["window"])
        if warning:
            print(f"  {warning}")
    best = max(results, key=lambda r: r["rate"])
    print(f"best: {best['config']}: {best['rate']:.1f} jobs/s")
    print(f"setup (not timed): deferring {n} jobs in bulk took {results[0]['publish_s']:.1f} s")
    if not ok:
        print("WARNING: not every job succeeded, or a worker logged errors; the figures are suspect")
    return 0 if ok else 1

