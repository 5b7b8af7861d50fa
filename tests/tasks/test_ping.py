"""The ping job on a real worker: a job outlives its lease length by heartbeat."""

from __future__ import annotations

import time

from models import JobStatus
from tasks.beat import reap_leases
from tests.support import wait_for_status


def test_a_job_longer_than_its_lease_keeps_it_by_heartbeat(app, client, auth, worker):
    # 5 s without a single progress call, against a 3 s lease: only the heartbeat thread renews it.
    job_id = client.post("/api/v1/jobs/ping", json={"sleep_ms": 5000}, headers=auth).json["id"]
    wait_for_status(app, job_id, {"running"})
    for _ in range(4):
        time.sleep(1.1)
        with app.app_context():
            assert reap_leases() == {"requeued": 0, "failed": 0}
    job = wait_for_status(app, job_id, timeout=10)
    assert job.status == JobStatus.succeeded and job.attempts == 1
