"""Round trip: how long one ping job takes from submission until the client knows it succeeded.

One job at a time (no concurrency), web (gunicorn, Conveyor's settings) and worker (celery prefork
-c 2) running and idle otherwise:

(a) `POST /api/v1/jobs/ping` with `Prefer: wait=10`: the answer (200) is the finished job.
(b) `POST /api/v1/jobs/ping` (202), then `GET /api/v1/jobs/<id>` every 10 ms until it says succeeded.

Each is measured by the client from just before the POST is sent to the answer that shows the job
succeeded, over one keep-alive connection (http.client). The jobs' own timestamps give the part the
server needed (created_at to finished_at); the rest is HTTP, the worker picking the message up, and
how soon the waiting request (a) or the client's polling (b) notices.

Baseline: the same broker and Celery configuration with nothing of Conveyor: `send_task` of
`bench.signal(key)` to queue default, run by `celery -A bench.bare_celery worker` with the same worker
options; the task LPUSHes to a Redis key and the client BLPOPs it. So the baseline is publish +
worker pickup + pool hand-off + one Redis round trip back: the floor of any Celery-based round trip
here, without HTTP and without a database.

    .venv/bin/python bench/roundtrip.py             # 200 jobs per mode, ~1 min
    .venv/bin/python bench/roundtrip.py --quick     # 40 jobs per mode, ~30 s
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import uuid
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as c  # noqa: E402

PING = json.dumps({"sleep_ms": 0, "steps": 0, "fail_times": 0}).encode()  # --sleep-ms changes sleep_ms
POLL_EVERY = 0.010


class Client:
    """One keep-alive HTTP/1.1 connection with the bearer token."""

    def __init__(self, base_url: str, token: str):
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.auth = f"Bearer {token}"

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        hdrs = {"Authorization": self.auth, **(headers or {})}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body, hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None

    def close(self):
        self.conn.close()


def bare_round_trips(n: int, warmup: int) -> list[float]:
    from bench.bare_celery import app

    r = c.redis_client()
    samples = []
    with app.producer_or_acquire() as producer:
        for i in range(warmup + n):
            key = f"bench:rt:{uuid.uuid4().hex}"
            t0 = time.perf_counter()
            app.send_task("bench.signal", args=[key], queue=c.WORKER_QUEUE, producer=producer)
            got = r.blpop([key], timeout=10)
            t1 = time.perf_counter()
            if got is None:
                raise RuntimeError("a bare round trip took more than 10 s")
            r.delete(key)
            if i >= warmup:
                samples.append(t1 - t0)
    return samples


def settle_broker(timeout: float = 10.0) -> None:
    """Wait until the queue is empty and no message is left unacknowledged."""
    r = c.redis_client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if r.llen(c.WORKER_QUEUE) == 0 and r.hlen("unacked") == 0:
            return
        time.sleep(0.01)


def wait_round_trips(client: Client, n: int, warmup: int) -> tuple[list[float], list[str]]:
    samples, ids = [], []
    for i in range(warmup + n):
        t0 = time.perf_counter()
        status, job = client.request("POST", "/api/v1/jobs/ping", PING, {"Prefer": "wait=10"})
        t1 = time.perf_counter()
        if status != 200 or job["status"] != "succeeded":
            raise RuntimeError(f"Prefer: wait=10 answered {status} with status {job and job.get('status')}")
        if i >= warmup:
            samples.append(t1 - t0)
            ids.append(job["id"])
    return samples, ids


def poll_round_trips(client: Client, n: int, warmup: int) -> tuple[list[float], list[str], list[int]]:
    samples, ids, polls = [], [], []
    for i in range(warmup + n):
        t0 = time.perf_counter()
        status, job = client.request("POST", "/api/v1/jobs/ping", PING)
        if status != 202:
            raise RuntimeError(f"POST answered {status}")
        path, count = f"/api/v1/jobs/{job['id']}", 0
        deadline = t0 + 10
        while job["status"] != "succeeded":
            if job["status"] in ("failed", "cancelled") or time.perf_counter() > deadline:
                raise RuntimeError(f"job {job['id']} ended {job['status']}")
            time.sleep(POLL_EVERY)
            status, job = client.request("GET", path)
            count += 1
            if status != 200:
                raise RuntimeError(f"GET answered {status}")
        t1 = time.perf_counter()
        if i >= warmup:
            samples.append(t1 - t0)
            ids.append(job["id"])
            polls.append(count)
    return samples, ids, polls


def server_side(ids: list[str]) -> dict[str, list[float]]:
    """From the jobs' timestamps: created->started (queue wait + pickup), started->finished, created->finished."""
    with c.pg_connect() as pg:
        rows = pg.execute("SELECT created_at, started_at, finished_at FROM jobs WHERE id = ANY(%s::uuid[])",
                          (ids,)).fetchall()
    out = {"pickup": [], "run": [], "total": []}
    for created, started, finished in rows:
        out["pickup"].append((started - created).total_seconds())
        out["run"].append((finished - started).total_seconds())
        out["total"].append((finished - created).total_seconds())
    return out


def stats(values: list[float]) -> tuple[float, float, float]:
    return (1e3 * c.percentile(values, 50), 1e3 * c.percentile(values, 99), 1e3 * sum(values) / len(values))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="40 jobs per mode (smoke test)")
    ap.add_argument("-n", "--jobs", type=int, help="jobs per mode (default 200, quick 40)")
    ap.add_argument("--sleep-ms", type=int, default=0,
                    help="the ping jobs' sleep_ms (default 0): shows how a longer job's end is noticed")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the benchmark database at the end")
    args = ap.parse_args()
    n = args.jobs or (40 if args.quick else 200)
    global PING
    PING = json.dumps({"sleep_ms": args.sleep_ms, "steps": 0, "fail_times": 0}).encode()
    warmup = 5 if args.quick else 20

    children = c.Children()
    c.install_guards(children, limit_seconds=300)
    env = c.base_env(children)
    c.use_env_here(env)
    c.log(f"{n} jobs per mode, database {c.DATABASE_URL}, broker {c.BROKER_URL}")
    c.reset_database(env)
    c.flush_redis()
    client = None
    try:
        web, web_url = c.start_gunicorn(children, "web", "web:create_app()", env)
        token = c.register_user(web_url, f"bench-{uuid.uuid4().hex[:8]}@example.com")

        c.wait_for_quiet()
        bare_worker = c.start_worker(children, "bare-worker", "bench.bare_celery", env)
        window = c.CpuWindow(children)
        bare = bare_round_trips(n, warmup)
        bare_window = window.stop()
        settle_broker()  # the last task's ack may still be on its way: stopping now would requeue it
        children.stop(bare_worker)
        c.flush_redis()
        c.log(f"bare: p50 {1e3 * c.percentile(bare, 50):.2f} ms")

        worker = c.start_worker(children, "worker", "worker.app", env)
        client = Client(web_url, token)
        c.wait_for_quiet()
        window = c.CpuWindow(children)
        waited, wait_ids = wait_round_trips(client, n, warmup)
        wait_window = window.stop()
        c.log(f"Prefer: wait: p50 {1e3 * c.percentile(waited, 50):.2f} ms")
        window = c.CpuWindow(children)
        polled, poll_ids, polls = poll_round_trips(client, n, warmup)
        poll_window = window.stop()
        c.log(f"polling: p50 {1e3 * c.percentile(polled, 50):.2f} ms")
        server_wait, server_poll = server_side(wait_ids), server_side(poll_ids)
        worker_errors = [ln for ln in children.log_tail("worker", 2000).splitlines() if "ERROR" in ln][:3]
        children.stop(worker)
    finally:
        if client is not None:
            client.close()
        c.teardown(children, args.keep_db)

    print()
    print(f"code: {c.code_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"Round trip, one ping job (sleep_ms {args.sleep_ms}) at a time ({n} per mode after {warmup} warm-up; "
          f"gunicorn gevent x2, "
          f"celery prefork -c 2, Redis broker, {os.cpu_count()} cores)")
    print(f"{'':<44}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    rows = [
        ("bare Celery: send_task -> BLPOP", bare),
        ("(a) POST Prefer: wait=10", waited),
        ("    server: created -> finished", server_wait["total"]),
        ("    server: created -> started (pickup)", server_wait["pickup"]),
        ("(b) POST + GET every 10 ms", polled),
        ("    server: created -> finished", server_poll["total"]),
    ]
    for label, values in rows:
        p50, p99, mean = stats(values)
        print(f"{label:<44}{p50:9.2f}{p99:9.2f}{mean:9.2f}")
    bare50 = c.percentile(bare, 50)
    for label, values in (("(a) wait", waited), ("(b) poll", polled)):
        p50 = c.percentile(values, 50)
        print(f"ratio bare/conveyor p50, {label}: {bare50 / p50:.3f} (conveyor takes {p50 / bare50:.1f}x the bare "
              f"round trip; p99 {c.percentile(values, 99) / c.percentile(bare, 99):.1f}x)")
    gap = [w - s for w, s in zip(sorted(waited), sorted(server_wait["total"]), strict=False)]
    print(f"(a) time between the job finishing and the answer (observed minus server p50): "
          f"{1e3 * (c.percentile(waited, 50) - c.percentile(server_wait['total'], 50)):.2f} ms "
          f"(mean of sorted differences {1e3 * sum(gap) / len(gap):.2f} ms)")
    print(f"(b) GETs per job: p50 {c.percentile(polls, 50)}, max {max(polls)}")
    for label, window in (("bare", bare_window), ("(a)", wait_window), ("(b)", poll_window)):
        print(f"CPU during {label}: {window.summary()}")
        warning = c.noise_warning(window)
        if warning:
            print(f"{label}: {warning}")
    if worker_errors:
        print("worker errors:", *worker_errors, sep="\n  ")
    return 1 if worker_errors else 0


if __name__ == "__main__":
    c.run(main)
