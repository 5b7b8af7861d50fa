"""Submission throughput: POST /api/v1/jobs/ping through gunicorn vs a bare publish-only Flask endpoint.

Both apps run under `gunicorn -c config/gunicorn.py` (gevent worker, WEB_CONCURRENCY=2) and
publish the same message (`conveyor.jobs.ping`, queue default) to the same Redis broker with
Conveyor's Celery configuration. Conveyor's endpoint also authenticates the bearer token, validates the
body, inserts the job and its `queued` event in PostgreSQL, and serialises the job. No worker runs:
messages pile up in the broker and are flushed at the end.

The load is closed-loop: `--connections` keep-alive connections (default 16, the two processes'
threads) each send the next request when the previous one is answered, for `--seconds` a round. The
rounds alternate bare/Conveyor and each side's best round is reported (the machine is shared: other
work can only slow a round down, so the fastest round is the least disturbed one; the median is
printed too).

    .venv/bin/python bench/submission.py            # 4 rounds of 8 s each side, ~1.5 min
    .venv/bin/python bench/submission.py --quick    # 1 round of 4 s, ~30 s
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as c  # noqa: E402

GOAL = 0.5
PING = {"sleep_ms": 0, "steps": 0, "fail_times": 0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one short round (smoke test)")
    ap.add_argument("--seconds", type=float, help="length of one measured round (default 8, quick 4)")
    ap.add_argument("--rounds", type=int, help="rounds per side (default 4, quick 1)")
    ap.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                    help="load generator: wrk if installed (default), else a Python thread pool")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the benchmark database at the end")
    args = ap.parse_args()
    seconds = args.seconds or (4.0 if args.quick else 8.0)
    rounds = args.rounds or (1 if args.quick else 4)
    warmup = 2.0 if args.quick else 3.0
    client = c.pick_client(args.client)

    children = c.Children()
    c.install_guards(children, limit_seconds=300)
    env = c.base_env(children)
    c.log(f"database {c.DATABASE_URL}, broker {c.BROKER_URL}, client {client}")
    c.reset_database(env)
    c.flush_redis()
    try:
        web, web_url = c.start_gunicorn(children, "web", "web:create_app()", env)
        bare, bare_url = c.start_gunicorn(children, "bare", "bench.bare_app:create_app()", env)
        token = c.register_user(web_url, f"bench-{uuid.uuid4().hex[:8]}@example.com")
        targets = {
            "bare": (f"{bare_url}/submit", {}, bare.pid),
            "conveyor": (f"{web_url}/api/v1/jobs/ping", {"Authorization": f"Bearer {token}"}, web.pid),
        }

        def run(side: str, secs: float, label: str) -> c.LoadResult:
            url, headers, pgid = targets[side]
            return c.post_load(label, url, PING, headers, seconds=secs, connections=args.connections,
                               client=client, server_pgid=pgid)

        for side in targets:  # warm both apps: imports, connection pools, JIT-less caches
            run(side, warmup, f"{side} warm-up")
        c.flush_redis()
        with c.pg_connect() as pg:
            jobs_before = pg.execute("SELECT count(*) FROM jobs").fetchone()[0]

        results: dict[str, list[c.LoadResult]] = {"bare": [], "conveyor": []}
        windows: dict[str, list[c.CpuWindow]] = {"bare": [], "conveyor": []}
        for i in range(rounds):
            for side in ("bare", "conveyor"):
                c.wait_for_quiet(max_wait=15)
                window = c.CpuWindow(children)
                r = run(side, seconds, f"{side} round {i + 1}")
                windows[side].append(window.stop())
                results[side].append(r)
                c.log(f"{r.line()}\n           CPU: {window.summary()}")

        # Sanity: every answered Conveyor request made exactly one job, and the broker got every message.
        with c.pg_connect() as pg:
            jobs_made = pg.execute("SELECT count(*) FROM jobs").fetchone()[0] - jobs_before
        queued = c.redis_client().llen("default")
        answered = {side: sum(r.requests - r.errors for r in rs) for side, rs in results.items()}
        errors = {side: sum(r.errors for r in rs) for side, rs in results.items()}
    finally:
        c.teardown(children, args.keep_db)

    best = {side: max(rs, key=lambda r: r.rps) for side, rs in results.items()}
    median = {side: statistics.median(r.rps for r in rs) for side, rs in results.items()}
    ratio = best["conveyor"].rps / best["bare"].rps
    print()
    print(f"code: {c.code_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"Submission throughput (best of {rounds} x {seconds:.0f} s a side, {args.connections} connections, "
          f"client {client}, gunicorn gthread 2x8, {os.cpu_count()} cores)")
    print(f"{'':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'srv ms/req':>11}"
          f"{'cli us/req':>11}{'busy':>6}   rounds req/s")
    for side in ("bare", "conveyor"):
        r = best[side]
        rounds_rps = " ".join(f"{x.rps:.0f}" for x in results[side])
        print(f"{side:<14}{r.rps:9.1f}{r.p50_ms:9.2f}{r.p99_ms:9.2f}{errors[side]:8d}"
              f"{1e3 * r.server_cpu_s / max(1, r.requests):11.2f}"
              f"{1e6 * r.client_cpu_s / max(1, r.requests):11.0f}{100 * r.machine_busy:5.0f}%   {rounds_rps}")
    print(c.ratio_line("ratio conveyor/bare req/s", ratio, GOAL))
    print(f"(ratio of the median rounds: {median['conveyor'] / median['bare']:.3f})")
    print(f"p50 latency conveyor/bare: {best['conveyor'].p50_ms / best['bare'].p50_ms:.2f}x, "
          f"p99: {best['conveyor'].p99_ms / best['bare'].p99_ms:.2f}x")
    for side in ("bare", "conveyor"):
        w = windows[side][results[side].index(best[side])]
        print(f"CPU during the best {side} round: {w.summary()}")
        warning = c.noise_warning(w)
        if warning:
            print(f"{side}: {warning}")
    print(f"check: {jobs_made} jobs inserted for {answered['conveyor']} answered Conveyor requests; "
          f"{queued} messages in the broker for {answered['bare'] + answered['conveyor']} answered requests "
          f"(requests in flight when a round stops are served but not counted)")
    spread = statistics.pstdev([r.rps for r in results["conveyor"]]) if rounds > 1 else 0.0
    if spread:
        print(f"conveyor round-to-round spread (stdev): {spread:.1f} req/s")
    # Requests still in flight when a round's clock stops are served but not counted: allow for them.
    slack = args.connections * (2 * rounds + 2)
    ok = (errors["conveyor"] == 0 and errors["bare"] == 0
          and answered["conveyor"] <= jobs_made <= answered["conveyor"] + slack)
    if not ok:
        print("WARNING: errors or lost jobs during the run; the figures are suspect")
    return 0 if ok else 1


if __name__ == "__main__":
    c.run(main)
