"""LLM calls at volume: chat messages through the whole path against the fake provider at 500 ms a call.

Each call: `POST /api/v1/chat/sessions/<id>/messages` with `Prefer: wait=30` (the web records the message
and its job), the `io` worker line's gevent pool runs it (moderation, tier limits, credit hold, the
streamed call through the openai client, capture with the answer and the call's record), the web answers
with the finished job. Measured: completed calls per second and the latency each call adds to the
provider's 500 ms (end to end minus 500 ms). Baseline in the same run: as many calls, as many at once,
straight to the fake provider with the openai client from a thread pool (what the machine can do with
no Conveyor in between). Then the OpenAI-compatible gateway with the official client as the load.
After: no job charged twice, no hold left open, reconciliation clean.

    .venv/bin/python bench/llm.py                 # 60 s a phase
    .venv/bin/python bench/llm.py --seconds 20    # shorter, on a shared machine
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as c  # noqa: E402

LATENCY_MS = 500
GOAL_CALLS_PER_SECOND = 100
GOAL_P99_ADDED_MS = 100
MODEL = "bench-chat"


def providers(port: int) -> str:
    return json.dumps({"providers": [{"name": "fake", "base_url": f"http://127.0.0.1:{port}/v1", "timeout": 30,
                                      "max_retries": 2, "models": {MODEL: {"input_price": "1000", "output_price": "2000",
                                                                           "context_window": 8192}}}]})


def prepare_users(users: int, base_url: str) -> list[tuple[str, int]]:
    """Users with plenty of credits, on a tier without limits (the seeded `free` tier allows 10 calls a
    minute), each with a chat session."""
    from sqlalchemy import update

    from config import load_settings
    from models import Tier
    from models.database import make_database
    from services import billing

    tokens = [c.register_user(base_url, f"llm{n}@bench.example") for n in range(users)]
    db = make_database(load_settings().database_url)
    with db.Session.begin() as session:
        session.execute(update(Tier).values(requests_per_minute=None, tokens_per_minute=None, concurrent_jobs=None))
        for user_id in range(1, users + 1):
            billing.top_up(session, user_id, 10_000_000, event_id=f"bench-{user_id}")
    db.engine.dispose()
    sessions = []
    for token in tokens:
        answer = request(base_url, "POST", "/api/v1/chat/sessions", {"model": MODEL, "title": "bench"}, token)
        sessions.append((token, answer["id"]))
    return sessions


def request(base_url: str, method: str, path: str, body: dict | None, token: str, conn=None, headers=None) -> dict:
    own = conn is None
    conn = conn or http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=60)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    if own:
        conn.close()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path} answered {response.status}: {data}")
    return data


def closed_loop(workers: int, seconds: float, call) -> tuple[list[float], int, float]:
    """`workers` threads calling `call(worker)` back to back for `seconds`: latencies, failures, elapsed."""
    latencies: list[list[float]] = [[] for _ in range(workers)]
    failures = [0] * workers
    stop = time.perf_counter() + seconds

    def loop(n: int) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                call(n)
                latencies[n].append(time.perf_counter() - started)
            except Exception as exc:  # counted, and the first few shown
                failures[n] += 1
                if sum(failures) <= 3:
                    c.log(f"call failed: {exc}")

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(n,), daemon=True) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for per in latencies for x in per], sum(failures), time.perf_counter() - started


def summary(label: str, latencies: list[float], failures: int, elapsed: float) -> dict:
    added = [1000 * x - LATENCY_MS for x in latencies]
    figures = {"calls": len(latencies), "failures": failures, "per_second": len(latencies) / elapsed,
               "p50_added_ms": c.percentile(added, 50), "p99_added_ms": c.percentile(added, 99)}
    print(f"{label}: {figures['calls']} calls in {elapsed:.1f} s = {figures['per_second']:.1f}/s, "
          f"failures {failures}, added latency p50 {figures['p50_added_ms']:.0f} ms, p99 {figures['p99_added_ms']:.0f} ms")
    return figures


def check_books() -> dict:
    """Charges per job, open holds, calls per succeeded job, reconciliation."""
    from sqlalchemy import func, select

    from config import load_settings
    from models import HoldState, Job, JobStatus, LedgerOperation, LlmCall, TransferKind
    from models.database import make_database
    from services import billing

    db = make_database(load_settings().database_url)
    with db.Session.begin() as s:
        charged_twice = s.scalar(select(func.count()).select_from(
            select(LedgerOperation.job_id).where(LedgerOperation.kind == TransferKind.charge)
            .group_by(LedgerOperation.job_id).having(func.count() > 1).subquery()))
        open_holds = s.scalar(select(func.count()).select_from(LedgerOperation)
                              .where(LedgerOperation.state == HoldState.open))
        succeeded = s.scalar(select(func.count()).select_from(Job).where(Job.kind.like("llm.%"),
                                                                         Job.status == JobStatus.succeeded))
        calls = s.scalar(select(func.count()).select_from(LlmCall))
        mismatches = billing.reconcile(s)
    db.engine.dispose()
    return {"charged_twice": charged_twice, "open_holds": open_holds, "succeeded": succeeded, "calls": calls,
            "reconciliation": "clean" if not mismatches else f"{len(mismatches)} mismatches"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=80, help="calls in flight (threads of the load)")
    ap.add_argument("--io-workers", type=int, default=2, help="processes of the io worker line")
    ap.add_argument("--keep-db", action="store_true")
    args = ap.parse_args()

    children = c.Children()
    c.install_guards(children, limit_seconds=4 * args.seconds + 300)
    fake_port = c.free_port()
    env = c.base_env(children, LLM_PROVIDERS=providers(fake_port), IO_WORKER_CONCURRENCY=str(args.concurrency),
                     SUBMIT_RATE_LIMIT="1000000/minute", REGISTER_RATE_LIMIT="1000/minute",
                     SIGNUP_BONUS_PER_IP_PER_DAY="1000", DB_POOL_SIZE="8", DB_MAX_OVERFLOW="4")
    c.use_env_here(env)
    os.environ["LLM_PROVIDERS"] = env["LLM_PROVIDERS"]
    c.reset_database(env)
    c.flush_redis()
    try:
        fake = children.spawn("fake", [str(c.VENV_BIN / "python"), "-m", "web.fake_provider", "--port",
                                       str(fake_port), "--latency-ms", str(LATENCY_MS)], env)
        c.wait_http(f"http://127.0.0.1:{fake_port}/v1/models", fake, children, "fake")
        import openai

        direct = openai.OpenAI(base_url=f"http://127.0.0.1:{fake_port}/v1", api_key="none", max_retries=0)
        messages = [{"role": "user", "content": "Tell me something about credits."}]
        baseline = summary("baseline: openai client straight to the fake provider", *closed_loop(
            args.concurrency, args.seconds,
            lambda n: direct.chat.completions.create(model=MODEL, messages=messages, max_tokens=32)))

        web, url = c.start_gunicorn(children, "web", "web:create_app()", env)
        for n in range(args.io_workers):  # the `io` line, once per core
            children.spawn(f"io{n}", [str(c.VENV_BIN / "python"), "-m", "worker", "io", "-n", f"io{n}@%h",
                                      "--loglevel", "WARNING"], env)
        sessions = prepare_users(args.concurrency, url)
        conns = [http.client.HTTPConnection(url.removeprefix("http://"), timeout=60) for _ in sessions]

        def chat_call(n: int) -> None:
            token, session_id = sessions[n]
            job = request(url, "POST", f"/api/v1/chat/sessions/{session_id}/messages",
                          {"content": "Tell me something about credits.", "max_tokens": 32}, token, conns[n],
                          {"Prefer": "wait=30"})
            if job["status"] != "succeeded":
                raise RuntimeError(f"job {job['id']} {job['status']}: {job.get('error')}")

        request(url, "POST", f"/api/v1/chat/sessions/{sessions[0][1]}/messages", {"content": "warm up"},
                sessions[0][0], headers={"Prefer": "wait=30"})
        chat = summary("chat messages, the whole path (Prefer: wait)", *closed_loop(args.concurrency, args.seconds,
                                                                                      chat_call))
        gateways = [openai.OpenAI(base_url=f"{url}/api/v1/openai", api_key=token, max_retries=0, timeout=60)
                    for token, _ in sessions]
        gateway = summary("gateway, official openai client as the load", *closed_loop(
            args.concurrency, args.seconds,
            lambda n: gateways[n].chat.completions.create(model=MODEL, messages=messages, max_tokens=32)))
        time.sleep(2)
        books = check_books()
    finally:
        c.teardown(children, args.keep_db)

    print()
    print(f"code: {c.code_version()}; {time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} cores; "
          f"{args.concurrency} calls in flight; {args.seconds:.0f} s a phase; fake provider at {LATENCY_MS} ms")
    print(f"books: {books}")
    print(c.ratio_line("chat calls/s / baseline calls/s", chat["per_second"] / baseline["per_second"], None))
    print(c.ratio_line("gateway calls/s / baseline calls/s", gateway["per_second"] / baseline["per_second"], None))
    met = (chat["per_second"] >= GOAL_CALLS_PER_SECOND and chat["p99_added_ms"] < GOAL_P99_ADDED_MS
           and books["charged_twice"] == 0 and books["open_holds"] == 0 and books["reconciliation"] == "clean")
    print(f"goal (>= {GOAL_CALLS_PER_SECOND} calls/s, p99 added < {GOAL_P99_ADDED_MS} ms, none charged twice, "
          f"reconciliation clean): {'MET' if met else 'NOT MET'}")
    suspect = chat["failures"] or gateway["failures"] or books["charged_twice"] or books["reconciliation"] != "clean"
    return 1 if suspect else 0


if __name__ == "__main__":
    c.run(main)
