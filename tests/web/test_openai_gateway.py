"""The OpenAI-compatible gateway, driven by the official `openai` client against the real web server (gunicorn),
a real worker and the fake provider."""

from __future__ import annotations

import math

import openai
import pytest
import requests
from sqlalchemy import select

from models import JobStatus, LlmCall
from tests.conftest import TEST_ENV
from tests.llm_support import balance, behave, fund, funded_user, seed_tier, subscribe
from tests.support import WebServer, make_user, wait_for_status

pytestmark = pytest.mark.usefixtures("fake_llm", "worker")


@pytest.fixture(scope="module")
def server():
    web = WebServer(TEST_ENV, workers=1)
    yield web
    web.stop()


def sdk(server, headers) -> openai.OpenAI:
    token = headers["Authorization"].removeprefix("Bearer ")
    return openai.OpenAI(base_url=f"{server.url}/api/v1/openai", api_key=token, max_retries=0, timeout=30)


@pytest.fixture
def funded(app, db):
    return funded_user(app, db)


def test_a_completion_and_a_stream_billed_and_listed_as_jobs(app, db, client, server, funded):
    _, headers = funded
    gateway = sdk(server, headers)
    assert [m.id for m in gateway.models.list().data] == ["fake-chat", "fake-solo"]

    answer = gateway.chat.completions.create(model="fake-chat", max_tokens=20,
                                             messages=[{"role": "user", "content": "Say something"}])
    assert answer.choices[0].message.content and answer.usage.completion_tokens == 12
    chunks = list(gateway.chat.completions.create(model="fake-chat", max_tokens=5, stream=True,
                                                  stream_options={"include_usage": True},
                                                  messages=[{"role": "user", "content": "Stream it"}]))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(streamed.split()) == 5 and chunks[-1].usage.completion_tokens == 5

    with db.read() as s:
        calls = list(s.scalars(select(LlmCall).order_by(LlmCall.id)))
    assert [c.completion_tokens for c in calls] == [12, 5]
    assert all(c.cost_credits == math.ceil(c.prompt_tokens / 10 + c.completion_tokens) for c in calls)
    assert balance(client, headers)["balance"] == 1000 - sum(c.cost_credits for c in calls)
    jobs = client.get("/api/v1/jobs?kind=llm.completion", headers=headers).json["items"]
    assert {j["status"] for j in jobs} == {"succeeded"} and len(jobs) == 2


def test_errors_come_in_openais_shape_and_the_sdk_raises_its_own(app, db, server, funded):
    _, headers = funded
    _, poor = make_user(app)  # no credits at all
    with pytest.raises(openai.APIStatusError) as refused:
        sdk(server, poor).chat.completions.create(model="fake-chat", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 402 and refused.value.code == "insufficient_credits"
    with pytest.raises(openai.NotFoundError):
        sdk(server, headers).chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.AuthenticationError) as unauthenticated:
        sdk(server, {"Authorization": "Bearer nonsense"}).models.list()
    assert unauthenticated.value.body["type"] == "authentication_error"

    limited_id, limited_user = make_user(app)
    subscribe(db, limited_id, seed_tier(db, "tight", rpm=1))
    fund(db, limited_id, 100)
    gateway = sdk(server, limited_user)
    gateway.chat.completions.create(model="fake-chat", max_tokens=5, messages=[{"role": "user", "content": "one"}])
    with pytest.raises(openai.RateLimitError) as limited:
        gateway.chat.completions.create(model="fake-chat", max_tokens=5, messages=[{"role": "user", "content": "two"}])
    assert 1 <= int(limited.value.response.headers["Retry-After"]) <= 61
    with pytest.raises(openai.RateLimitError):  # a stream is refused before it starts, with the same status
        gateway.chat.completions.create(model="fake-chat", max_tokens=5, stream=True,
                                        messages=[{"role": "user", "content": "three"}])


def test_a_client_leaving_a_stream_cancels_the_call_and_pays_what_streamed(app, db, client, server, funded):
    _, headers = funded
    behave("primary", token_delay_ms=100, reply_tokens=60)
    body = {"model": "fake-chat", "stream": True, "max_tokens": 80, "messages": [{"role": "user", "content": "go"}]}
    with requests.post(f"{server.url}/api/v1/openai/chat/completions", json=body, headers=headers, stream=True,
                       timeout=30) as answer:
        assert answer.status_code == 200
        lines = answer.iter_lines()
        first = [next(lines) for _ in range(8)]  # a few chunks, then the client goes away
    assert any(b'"content":"' in line for line in first)
    [job] = client.get("/api/v1/jobs?kind=llm.completion", headers=headers).json["items"]
    assert wait_for_status(app, job["id"]).status == JobStatus.cancelled
    with db.read() as s:
        [call] = s.scalars(select(LlmCall)).all()
    assert call.cancelled and 0 < call.completion_tokens < 60
    wallet = balance(client, headers)
    assert (wallet["balance"], wallet["held"]) == (1000 - call.cost_credits, 0)
