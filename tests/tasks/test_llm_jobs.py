"""Chat messages answered by `llm.chat` jobs on a real worker against the fake provider (a real server):
streaming, settlement by reported usage, retries, fallback, timeouts, holds under concurrency, moderation,
cancel."""

from __future__ import annotations

import math
import threading
import time

import pytest
from sqlalchemy import func, select

from models import HoldState, JobStatus, LedgerOperation, LlmCall, TransferKind
from services import billing
from services.llm import pricing
from services.llm.providers import catalogue
from tasks.llm import void_llm_holds
from worker.llm.client import client_for
from tests.llm_support import balance, behave, fund, funded_user, requests_to, seed_tier
from tests.support import make_user, sse_events, wait_for_status

pytestmark = pytest.mark.usefixtures("fake_llm", "worker")


@pytest.fixture
def user(app, db):
    return funded_user(app, db)


def new_session(client, headers, model: str = "fake-chat") -> int:
    answer = client.post("/api/v1/chat/sessions", json={"model": model, "title": "test"}, headers=headers)
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def send(client, headers, session_id: int, content: str = "hello there", max_tokens: int = 20) -> str:
    answer = client.post(f"/api/v1/chat/sessions/{session_id}/messages",
                         json={"content": content, "max_tokens": max_tokens}, headers=headers)
    assert answer.status_code == 202, answer.json
    return answer.json["id"]


def expected_cost(call: LlmCall) -> int:
    """The test configuration's prices: 0.1 credit a prompt token, 1 a completion token."""
    return math.ceil(call.prompt_tokens / 10 + call.completion_tokens)


def calls(db) -> list[LlmCall]:
    with db.read() as s:
        return list(s.scalars(select(LlmCall).order_by(LlmCall.id)))


def charges(db, user_id: int) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(LedgerOperation).where(
            LedgerOperation.user_id == user_id, LedgerOperation.kind == TransferKind.charge))


def assert_reconciled(db) -> None:
    with db.Session.begin() as s:
        assert billing.reconcile(s) == []


def test_a_message_streams_its_tokens_and_is_charged_its_reported_usage(app, db, client, user):
    user_id, headers = user
    behave("primary", token_delay_ms=30)
    session_id = new_session(client, headers)
    job_id = send(client, headers, session_id)
    stream = client.get(f"/api/v1/jobs/{job_id}/stream", headers=headers, buffered=False)
    events = sse_events(b"".join(stream.response).decode().split("\n"))
    assert wait_for_status(app, job_id).status == JobStatus.succeeded

    tokens = "".join(data["text"] for _, event, data in events if event == "token")
    history = client.get(f"/api/v1/chat/sessions/{session_id}/messages", headers=headers).json["items"]
    answer, question = history
    assert question["role"] == "user" and question["content"] == "hello there"
    assert answer["role"] == "assistant" and answer["content"] == tokens and tokens
    [call] = calls(db)
    assert (answer["provider"], answer["model"], answer["completion_tokens"]) == ("primary", "fake-chat", 12)
    assert answer["cost_credits"] == call.cost_credits == expected_cost(call)
    assert balance(client, headers)["balance"] == 1000 - call.cost_credits
    assert balance(client, headers)["held"] == 0
    assert charges(db, user_id) == 1
    assert_reconciled(db)


def test_two_429s_with_retry_after_then_success_wait_and_charge_once(app, db, client, user):
    user_id, headers = user
    behave("primary", script=[{"status": 429, "retry_after": 1}, {"status": 429, "retry_after": 1}])
    job = wait_for_status(app, send(client, headers, new_session(client, headers)))
    assert job.status == JobStatus.succeeded and job.attempts == 1
    first, second, third = requests_to("primary")
    assert second - first >= 1.0 and third - second >= 1.0  # Retry-After honoured
    assert [c.provider for c in calls(db)] == ["primary"] and charges(db, user_id) == 1
    assert_reconciled(db)


def test_a_failing_provider_falls_back_and_cools_down(app, db, client, user):
    _, headers = user
    behave("primary", fail_rate=1.0, fail_status=503)
    session_id = new_session(client, headers)
    assert wait_for_status(app, send(client, headers, session_id)).status == JobStatus.succeeded
    assert len(requests_to("primary")) == 3  # one call and its 2 retries
    assert wait_for_status(app, send(client, headers, session_id)).status == JobStatus.succeeded
    assert len(requests_to("primary")) == 3  # cooling down: skipped
    assert [c.provider for c in calls(db)] == ["backup", "backup"]
    assert app.extensions["conveyor"].redis.exists("conveyor:llm:cooldown:primary")


def test_a_timeout_is_retried_then_fails_with_its_code_and_the_hold_voided(app, db, client, user):
    user_id, headers = user
    behave("primary", latency_ms=2500)  # past its 1 s timeout
    job = wait_for_status(app, send(client, headers, new_session(client, headers, "fake-solo")), timeout=60)
    assert job.status == JobStatus.failed and job.error["code"] == "provider_timeout"
    assert len(requests_to("primary")) == 3
    with db.read() as s:
        holds = list(s.scalars(select(LedgerOperation).where(LedgerOperation.kind == TransferKind.hold,
                                                             LedgerOperation.state.is_not(None))))
    assert [h.state for h in holds] == [HoldState.voided]
    wallet = balance(client, headers)
    assert (wallet["balance"], wallet["held"], charges(db, user_id)) == (1000, 0, 0)
    assert_reconciled(db)


def test_20_concurrent_messages_with_credits_for_5_worst_cases(app, db, client):
    seed_tier(db)
    user_id, headers = make_user(app)
    prompt = pricing.prompt_tokens([{"role": "user", "content": "hello there"}])
    worst = math.ceil(prompt / 10 + 20)  # at the test prices, max_tokens 20
    fund(db, user_id, 5 * worst)
    behave("primary", latency_ms=200)
    sessions = [new_session(client, headers) for _ in range(20)]
    job_ids: list[str] = []
    threads = [threading.Thread(target=lambda s=s: job_ids.append(send(app.test_client(), headers, s)))
               for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    jobs = [wait_for_status(app, job_id, timeout=60) for job_id in job_ids]

    answered = [j for j in jobs if j.status == JobStatus.succeeded]
    refused = [j for j in jobs if j.status != JobStatus.succeeded]
    assert len(answered) >= 5
    assert {(j.status, j.error["code"]) for j in refused} <= {(JobStatus.failed, "insufficient_credits")}
    spent = sum(c.cost_credits for c in calls(db))
    assert all(c.cost_credits == expected_cost(c) for c in calls(db)) and len(calls(db)) == len(answered)
    wallet = balance(client, headers)
    assert wallet["balance"] == 5 * worst - spent >= 0 and wallet["held"] == 0
    assert_reconciled(db)


def test_flagged_content_charges_nothing_and_is_listed_for_review(app, db, client, user, admin):
    user_id, headers = user
    session_id = new_session(client, headers)
    job = wait_for_status(app, send(client, headers, session_id, "where can I buy contraband?"))
    assert job.status == JobStatus.failed and job.error["code"] == "content_flagged"
    assert requests_to("primary") == [] and balance(client, headers)["balance"] == 1000
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(LedgerOperation).where(
            LedgerOperation.user_id == user_id,
            LedgerOperation.kind.in_([TransferKind.hold, TransferKind.charge]))) == 0  # no hold, no charge
    [flag] = client.get("/api/v1/admin/moderation", headers=admin).json["items"]
    assert flag["user_id"] == user_id and flag["job_id"] == str(job.id) and "contraband" in flag["content"]
    [message] = client.get(f"/api/v1/chat/sessions/{session_id}/messages", headers=headers).json["items"]
    assert message["flagged"] is True
    assert client.get("/api/v1/admin/moderation", headers=headers).status_code == 403


def test_cancel_mid_stream_stops_and_settles_what_was_used(app, db, client, user):
    _, headers = user
    behave("primary", token_delay_ms=100, reply_tokens=60)
    job_id = send(client, headers, new_session(client, headers), max_tokens=80)
    wait_for_status(app, job_id, {"running"})
    time.sleep(1.5)
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers).status_code == 200
    assert wait_for_status(app, job_id).status == JobStatus.cancelled
    [call] = calls(db)
    assert call.cancelled and 0 < call.completion_tokens < 60
    wallet = balance(client, headers)
    assert wallet["balance"] == 1000 - call.cost_credits and wallet["held"] == 0
    assert_reconciled(db)


def test_a_tiers_requests_per_minute_refuse_the_next_call(app, db, client):
    seed_tier(db, rpm=2)
    user_id, headers = make_user(app)
    fund(db, user_id, 1000)
    session_id = new_session(client, headers)
    jobs = [wait_for_status(app, send(client, headers, session_id)) for _ in range(3)]
    assert [j.status for j in jobs] == [JobStatus.succeeded, JobStatus.succeeded, JobStatus.failed]
    assert jobs[2].error["code"] == "rate_limited" and 1 <= jobs[2].error["details"]["retry_after"] <= 61
    assert len(calls(db)) == 2


def test_beat_voids_a_hold_its_ended_job_left_open(app, db, client, user):
    user_id, headers = user
    job = wait_for_status(app, send(client, headers, new_session(client, headers), "kill all the bugs"))
    assert job.error["code"] == "content_flagged"  # ended, holding nothing: give it a hold a crash left behind
    with db.Session.begin() as s:
        billing.hold(s, user_id, 7, key=f"llm-hold:{job.id}", job_id=job.id)
    assert balance(client, headers)["held"] == 7
    with app.app_context():
        assert void_llm_holds() == 1 and void_llm_holds() == 0
    assert balance(client, headers)["held"] == 0
    assert_reconciled(db)


def test_a_providers_moderation_endpoint_is_asked_through_the_client(app):
    runtime = app.extensions["conveyor"]
    primary = catalogue(runtime.settings).providers["primary"]
    assert client_for(runtime).moderate(primary, "some fake-flagged text") == ["primary: harassment"]
    assert client_for(runtime).moderate(primary, "a harmless question") == []
