"""Sales jobs run on the `sales` queue; beat starts the stock reconciliation nightly as a system job."""

from __future__ import annotations

import pytest

from config import load_settings
from tasks.beat import start_job
from tests.support import wait_for_status
from worker.routes import queue_of
from worker.schedule import beat_schedule


@pytest.mark.parametrize("kind", ["sales.stock_adjustment", "sales.stock_transfer", "sales.reconcile_stock"])
def test_sales_jobs_run_on_the_sales_queue(kind):
    assert queue_of(kind) == "sales"


def test_beat_starts_the_stock_reconciliation_as_a_system_job(app, worker):
    entry = beat_schedule(load_settings())["reconcile-stock"]
    assert entry["task"] == "conveyor.beat.start_job"
    job_id = start_job.apply(args=entry["args"]).get()
    job = wait_for_status(app, job_id)
    assert job.owner_id is None and job.queue == "sales"
    assert job.status.value == "succeeded" and job.result == {"ok": True, "count": 0, "mismatches": []}


@pytest.mark.parametrize("kind", ["sales.place_order", "sales.confirm_order", "sales.cancel_order",
                                  "sales.expire_orders"])
def test_order_jobs_run_on_the_sales_queue(kind):
    assert queue_of(kind) == "sales"
