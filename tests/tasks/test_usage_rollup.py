"""The usage rollup as beat runs it (a system job on a real worker): idempotent and incremental."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select

from config import load_settings
from models import LlmCall, UsageDaily, UsageRollupState, UsageTierDaily
from models.usage import MEASURES
from services.usage import rollup
from tasks.beat import start_job
from tests.support import wait_for_status
from tests.usage_support import D1, D2, charge, noon, usage_of_two_users
from worker.schedule import beat_schedule
from worker.submission import enqueue

pytestmark = pytest.mark.usefixtures("worker")


def run_rollup(app, db, *, by_beat: bool = False) -> dict:
    """A rollup run: beat's own schedule entry, or (beat starts one a minute at most) one of the same kind."""
    if by_beat:
        entry = beat_schedule(load_settings())["usage-rollup"]
        job_id = start_job.apply(args=entry["args"]).get()
    else:
        with app.app_context(), db.Session.begin() as session:
            job_id = enqueue(session, "usage.rollup", {}, idempotency_key=f"test rollup {uuid.uuid4()}")[0].id
    job = wait_for_status(app, job_id)
    assert job.status.value == "succeeded" and job.owner_id is None, job.error
    return job.result


def rows(db) -> dict:
    with db.Session() as session:
        users = {(r.day, r.user_id, r.model): tuple(getattr(r, m) for m in MEASURES)
                 for r in session.scalars(select(UsageDaily))}
        tiers = {(r.day, r.tier): tuple(getattr(r, m) for m in MEASURES)
                 for r in session.scalars(select(UsageTierDaily))}
    return {"users": users, "tiers": tiers}


def measures(**given) -> tuple:
    return tuple(given.get(m, 0) for m in MEASURES)


def test_the_rollup_sums_each_day_once_and_recomputes_only_the_days_that_changed(app, db):
    people = usage_of_two_users(app, db)
    a, b = people["a"], people["b"]
    assert run_rollup(app, db, by_beat=True) == {"days": [str(D1), str(D2)]}
    first = rows(db)
    assert first["users"] == {
        (D1, a, ""): measures(credits_spent=50, credits_charged=30, credits_captured=25, credits_refunded=5,
                              calls=2, errors=1),
        (D2, a, ""): measures(credits_spent=20, credits_charged=20),
        (D1, b, ""): measures(credits_spent=10, credits_charged=10)}
    assert first["tiers"] == {
        (D1, "free"): first["users"][(D1, a, "")], (D2, "free"): first["users"][(D2, a, "")],
        (D1, "basic"): first["users"][(D1, b, "")]}

    assert run_rollup(app, db) == {"days": []}  # nothing changed
    assert rows(db) == first

    charge(db, b, 7, D2)
    assert run_rollup(app, db) == {"days": [str(D2)]}  # only the day of the new charge
    after = rows(db)
    assert after["users"] == {**first["users"], (D2, b, ""): measures(credits_spent=7, credits_charged=7)}
    assert after["tiers"][(D2, "basic")] == measures(credits_spent=7, credits_charged=7)

    # Without watermarks every day is recomputed, to the same rows, by two runs at once too.
    with db.Session.begin() as session:
        session.execute(delete(UsageRollupState))
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: run_rollup(app, db), range(2)))
    # (the second run finds nothing left to do if the first kept its watermarks before it looked)
    assert {"days": [str(D1), str(D2)]} in runs and all(run["days"] in ([], [str(D1), str(D2)]) for run in runs)
    assert rows(db) == after


def recompute(db, day) -> dict:
    with db.Session.begin() as session:
        assert rollup.recompute_day(session, day) == 2  # users a and b
    return rows(db)


def test_a_day_recomputed_gives_the_same_rows(app, db):
    usage_of_two_users(app, db)
    once = recompute(db, D1)
    assert len(once["users"]) == 2 and len(once["tiers"]) == 2
    assert recompute(db, D1) == once



def test_llm_calls_give_the_tokens_per_model_and_their_credits_stay_the_ledgers(app, db):
    users = usage_of_two_users(app, db)
    with db.Session.begin() as session:
        for model, tokens_in, tokens_out in (("gpt-a", 100, 20), ("gpt-a", 50, 5), ("gpt-b", 7, 3)):
            session.add(LlmCall(job_id=uuid.uuid4(), user_id=users["a"], model=model, provider="fake",
                                prompt_tokens=tokens_in, completion_tokens=tokens_out, cost_credits=1, latency_ms=1,
                                created_at=noon(D1)))
    with db.Session() as session:
        days, marks = rollup.plan(session, datetime.now(timezone.utc), timedelta(0))
    assert D1 in days and marks["llm_calls"] > 0
    with db.Session.begin() as session:
        assert rollup.recompute_day(session, D1) == 4  # a: '' and two models; b: ''
    day = rows(db)["users"]
    assert day[(D1, users["a"], "gpt-a")] == measures(tokens_in=150, tokens_out=25)
    assert day[(D1, users["a"], "gpt-b")] == measures(tokens_in=7, tokens_out=3)
    # The calls' credits are the ledger's captures, under model '' only: never counted twice.
    assert day[(D1, users["a"], "")] == measures(credits_charged=30, credits_captured=25, credits_refunded=5,
                                                 credits_spent=50, calls=2, errors=1)
