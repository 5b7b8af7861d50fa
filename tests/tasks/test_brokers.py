"""AMQP works as the broker as well as Redis."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_ENV
from tests.services_up import answers
from tests.support import WorkerProcess, first_pass_only, make_user

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


@first_pass_only
@pytest.mark.skipif(not answers("amqp://127.0.0.1:5672"), reason="no RabbitMQ on 127.0.0.1:5672")
def test_ping_over_rabbitmq(make_app, metrics_auth):
    rabbit = make_app(BROKER_URL=AMQP_URL)
    _, auth = make_user(rabbit)
    worker = WorkerProcess({**TEST_ENV, "BROKER_URL": AMQP_URL})
    try:
        answer = rabbit.test_client().post("/api/v1/jobs/ping", json={"steps": 2},
                                           headers={**auth, "Prefer": "wait=30"})
    finally:
        worker.stop()
    assert answer.status_code == 200 and answer.json["status"] == "succeeded"
    metrics = rabbit.test_client().get("/metrics", headers=metrics_auth).get_data(as_text=True)
    assert 'conveyor_queue_depth{queue="default"} 0.0' in metrics
