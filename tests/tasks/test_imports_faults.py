"""Imports under crashes and cancels, with real worker processes: a worker killed mid-import resumes after the
last committed batch and writes each row once; a cancel stops between batches, and an atomic import
cancelled half-way leaves the catalogue untouched."""

from __future__ import annotations


import pytest
from sqlalchemy import func, insert, select

from models import ImportStagedRow, InventoryMovement, JobStatus, Product, Role, Stock
from models.base import utcnow
from services import sales
from tests.imports_support import upload
from tests.sales_support import branch, staff
from tests.support import load_job, requeue_after_lease, wait_for_progress, wait_for_status

SLOW_BATCHES = {"IMPORT_BATCH_ROWS": "50"}


def count(app, model, *where) -> int:
    with app.extensions["conveyor"].db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def products_file(rows: int) -> bytes:
    return ("sku,name,price\n" + "".join(f"P-{n},Product {n},{n % 100}.50\n" for n in range(rows))).encode()


def test_a_stock_import_whose_worker_is_killed_resumes_and_writes_each_row_once(app, client, worker_processes):
    if app.extensions["conveyor"].db.is_sqlite:
        pytest.skip("the crash test runs on PostgreSQL; SQLite shares the same code paths")
    admin = staff(app, Role.admin)
    shop = branch(client, admin, "K01")["id"]
    rows = 6000
    with app.extensions["conveyor"].db.Session.begin() as session:
        session.execute(insert(Product), [{"sku": f"S-{n}", "name": f"S {n}", "price": 1, "cost": 0, "tax_rate": 0,
                                           "has_sizes": False, "sizes": [], "min_stock": 0, "active": True,
                                           "created_at": utcnow()} for n in range(rows)])
    content = ("sku,quantity,mode\n" + "".join(f"S-{n},{n % 7 + 1},add\n" for n in range(rows))).encode()
    victim = worker_processes(queues="imports", env=SLOW_BATCHES)
    job_id = upload(client, admin, content, "stock.csv", wait=0, kind="stock", branch_id=shop,
                    mode="apply").json["job_id"]
    wait_for_progress(app, job_id, 500)
    victim.kill9()
    assert load_job(app, job_id).progress_done < rows, "the import finished before the kill; make it longer"

    requeue_after_lease(app)
    worker_processes(queues="imports", env=SLOW_BATCHES)
    job = wait_for_status(app, job_id, timeout=120)
    assert job.status == JobStatus.succeeded and job.attempts == 2, job.error
    assert job.result["counts"] == {"new": rows, "update": 0, "skip": 0, "error": 0}
    assert count(app, InventoryMovement) == rows
    with app.extensions["conveyor"].db.read() as session:
        assert session.scalar(select(func.sum(Stock.quantity))) == sum(n % 7 + 1 for n in range(rows))
        assert sales.reconcile_stock(session) == []


@pytest.mark.parametrize("atomic", [False, True])
def test_a_cancel_stops_between_batches(app, client, worker_processes, atomic):
    admin = staff(app, Role.admin)
    rows = 20000
    worker_processes(queues="imports", env=SLOW_BATCHES)
    job_id = upload(client, admin, products_file(rows), wait=0, mode="apply", atomic=atomic).json["job_id"]
    wait_for_progress(app, job_id, 300)
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=admin).status_code in (200, 202)
    job = wait_for_status(app, job_id, timeout=60)
    assert job.status == JobStatus.cancelled
    written = count(app, Product)
    if atomic:
        assert written == 0 and count(app, ImportStagedRow) == 0  # the catalogue untouched, the staging cleared
    else:
        assert 0 < written < rows and written % 50 == 0  # whole batches only
        assert written == load_job(app, job_id).progress_done
