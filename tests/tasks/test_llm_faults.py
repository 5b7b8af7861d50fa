"""LLM calls across real worker processes (the `io` line's gevent pool): a provider's cooldown is shared, and
a worker killed mid-stream never costs a second charge."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from models import HoldState, JobStatus, LedgerOperation, LlmCall, TransferKind
from services import billing
from tests.conftest import TEST_ENV
from tests.llm_support import balance, behave, funded_user, requests_to
from tests.support import first_pass_only, requeue_after_lease, wait_for_status

pytestmark = pytest.mark.usefixtures("fake_llm")


def llm_worker(worker_processes):
    return worker_processes(queues="llm", pool="gevent", concurrency=20)


@pytest.fixture
def user(app, db, client):
    user_id, headers = funded_user(app, db)
    session_id = client.post("/api/v1/chat/sessions", json={"model": "fake-chat"}, headers=headers).json["id"]
    return user_id, headers, session_id


def send(client, headers, session_id: int, max_tokens: int = 20) -> str:
    return client.post(f"/api/v1/chat/sessions/{session_id}/messages", json={"content": "hello",
                                                                          "max_tokens": max_tokens},
                       headers=headers).json["id"]


def calls(db) -> list[LlmCall]:
    with db.read() as s:
        return list(s.scalars(select(LlmCall).order_by(LlmCall.id)))


@first_pass_only
def test_a_providers_cooldown_is_shared_by_another_worker_process(app, db, client, worker_processes, user):
    _, headers, session_id = user
    behave("primary", fail_rate=1.0, fail_status=500)
    first = llm_worker(worker_processes)
    assert wait_for_status(app, send(client, headers, session_id)).status == JobStatus.succeeded
    first.stop()
    tried = len(requests_to("primary"))
    assert tried == 3

    llm_worker(worker_processes)  # another process: it knows of the cooldown only through Redis
    assert wait_for_status(app, send(client, headers, session_id)).status == JobStatus.succeeded
    assert len(requests_to("primary")) == tried
    assert [c.provider for c in calls(db)] == ["backup", "backup"]


@pytest.mark.skipif(TEST_ENV["DATABASE_URL"].startswith("sqlite"), reason="a crash test of PostgreSQL's locking")
def test_a_worker_killed_mid_stream_answers_and_charges_once(app, db, client, worker_processes, user):
    user_id, headers, session_id = user
    behave("primary", token_delay_ms=200, reply_tokens=30)
    victim = llm_worker(worker_processes)
    job_id = send(client, headers, session_id, max_tokens=40)
    wait_for_status(app, job_id, {"running"}, timeout=30)
    time.sleep(1.5)  # tokens are streaming
    assert balance(client, headers)["held"] > 0
    victim.kill9()

    behave("primary", reply_tokens=30)  # fast again
    requeue_after_lease(app)
    llm_worker(worker_processes)
    job = wait_for_status(app, job_id, timeout=60)

    assert job.status == JobStatus.succeeded and job.attempts == 2
    [call] = calls(db)
    wallet = balance(client, headers)
    assert wallet["balance"] == 1000 - call.cost_credits and wallet["held"] == 0
    with db.Session.begin() as s:
        holds = list(s.scalars(select(LedgerOperation).where(LedgerOperation.user_id == user_id,
                                                             LedgerOperation.kind == TransferKind.hold,
                                                             LedgerOperation.state.is_not(None))))
        assert [h.state for h in holds] == [HoldState.captured]
        assert billing.reconcile(s) == []
    assert len(requests_to("primary")) == 2  # the killed attempt's call, and the one that was charged
