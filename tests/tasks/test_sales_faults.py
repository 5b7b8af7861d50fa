"""Sales under concurrency and crashes, with real worker processes: never oversold, no deadlock, and an
offline batch whose worker is killed half-way applies every sale exactly once."""

from __future__ import annotations


from sqlalchemy import func, select

from models import InventoryMovement, Invoice, JobStatus, Role, Sale
from services import sales
from tests.sales_support import branch, product, sale, staff, stock_of
from tests.support import load_job, requeue_after_lease, wait_for_progress, wait_for_status


def stocked(app, client, quantities: dict) -> dict:
    """Branch A with products stocked as given ({sku: quantity}, at 1.00 untaxed); a seller there."""
    admin = staff(app, Role.admin)
    ids = {"a": branch(client, admin, "A")["id"], "admin": admin}
    for sku, quantity in quantities.items():
        ids[sku] = product(client, admin, sku, price="1.00")["id"]
    with app.extensions["conveyor"].db.Session.begin() as session:
        sales.adjust(session, ids["a"], [{"product_id": ids[s], "size": "", "quantity": q}
                                         for s, q in quantities.items()], reason="seed", reference="seed",
                     user_id=None)
    ids["seller"] = staff(app, Role.seller, ids["a"])
    return ids


def submit(client, headers, body) -> str:
    answer = client.post("/api/v1/sales", json=body, headers=headers)
    assert answer.status_code == 202, answer.json
    return answer.json["id"]


def invoice_sequences(app) -> list[int]:
    with app.extensions["conveyor"].db.read() as session:
        return list(session.scalars(select(Invoice.sequence).order_by(Invoice.sequence)))


def assert_reconciled(app) -> None:
    with app.extensions["conveyor"].db.read() as session:
        assert sales.reconcile_stock(session) == []


def test_50_one_unit_sales_against_a_stock_of_10_on_two_workers(app, client, worker_processes):
    shop = stocked(app, client, {"MUG": 10})
    ids = [submit(client, shop["seller"], sale(shop["a"], [(shop["MUG"], 1)], [("card", "1.00")]))
           for _ in range(50)]
    worker_processes(concurrency=2, queues="sales")
    worker_processes(concurrency=2, queues="sales")
    jobs = [wait_for_status(app, job_id, timeout=120) for job_id in ids]
    succeeded = [j for j in jobs if j.status == JobStatus.succeeded]
    failed = [j for j in jobs if j.status == JobStatus.failed]
    assert len(succeeded) == 10 and len(failed) == 40
    assert {j.error["code"] for j in failed} == {"insufficient_stock"}
    assert stock_of(app, shop["a"]) == {(shop["MUG"], ""): 0}
    assert invoice_sequences(app) == list(range(1, 11))  # 40 failed sales, no gap
    assert_reconciled(app)


def test_sales_of_the_same_products_in_opposite_orders_do_not_deadlock(app, client, worker_processes):
    shop = stocked(app, client, {"CUP": 20, "SAUCER": 20})
    cup, saucer = shop["CUP"], shop["SAUCER"]
    ids = [submit(client, shop["seller"], sale(shop["a"], [(cup, 1), (saucer, 1)] if n % 2 else
                                               [(saucer, 1), (cup, 1)], [("cash", "2.00")])) for n in range(30)]
    worker_processes(concurrency=2, queues="sales")
    worker_processes(concurrency=2, queues="sales")
    jobs = [wait_for_status(app, job_id, timeout=120) for job_id in ids]
    assert all(j.attempts == 1 for j in jobs)  # no deadlock (nor anything else) made a sale retry
    assert sorted(j.status.value for j in jobs) == ["failed"] * 10 + ["succeeded"] * 20
    assert stock_of(app, shop["a"]) == {(cup, ""): 0, (saucer, ""): 0}
    assert_reconciled(app)


def test_a_batch_whose_worker_is_killed_half_way_applies_each_sale_once(app, client, worker_processes):
    shop = stocked(app, client, {"PEN": 1000})
    count = 300
    body = {"branch_id": shop["a"], "terminal_id": "T1", "sales": [
        {k: v for k, v in sale(shop["a"], [(shop["PEN"], 1)], [("card", "1.00")]).items()
         if k not in ("branch_id", "terminal_id")} for _ in range(count)]}
    victim = worker_processes(queues="sales", env={"SALES_BATCH_STEP": "1"})  # one commit per sale: slow enough
    job_id = client.post("/api/v1/sales/batches", json=body, headers=shop["seller"]).json["id"]
    wait_for_progress(app, job_id, 20)
    victim.kill9()
    done_at_kill = load_job(app, job_id).progress_done
    assert done_at_kill < count, "the batch finished before the kill; make it longer"

    requeue_after_lease(app)
    worker_processes(queues="sales")
    job = wait_for_status(app, job_id, timeout=120)
    assert job.status == JobStatus.succeeded and job.attempts == 2, job.error
    assert job.result["applied"] == count and len(job.result["outcomes"]) == count
    assert [o["index"] for o in job.result["outcomes"]] == list(range(count))
    with app.extensions["conveyor"].db.read() as session:
        assert session.scalar(select(func.count()).select_from(Sale)) == count
        assert session.scalar(select(func.count()).select_from(InventoryMovement)
                              .where(InventoryMovement.reason == "sale")) == count
    assert stock_of(app, shop["a"]) == {(shop["PEN"], ""): 1000 - count}
    assert invoice_sequences(app) == list(range(1, count + 1))
    assert_reconciled(app)


def test_a_batch_and_single_sales_of_the_same_rows_do_not_deadlock(app, client, worker_processes):
    # A batch step holds several sales' rows at once (one after the other, not in the global order);
    # every sale draws the branch's invoice number first, so single sales queue behind the step instead
    # of holding a row it wants.
    shop = stocked(app, client, {"CUP": 200, "SAUCER": 200})
    cup, saucer = shop["CUP"], shop["SAUCER"]
    lines = [[(saucer, 1)], [(cup, 1)], [(cup, 1), (saucer, 1)]]
    batch = {"branch_id": shop["a"], "terminal_id": "T9", "sales": [
        {k: v for k, v in sale(shop["a"], lines[n % 3], [("cash", "2.00")]).items()
         if k not in ("branch_id", "terminal_id")} for n in range(60)]}
    ids = [client.post("/api/v1/sales/batches", json=batch, headers=shop["seller"]).json["id"]]
    ids += [submit(client, shop["seller"], sale(shop["a"], lines[n % 3], [("cash", "2.00")])) for n in range(40)]
    worker_processes(concurrency=2, queues="sales", env={"SALES_BATCH_STEP": "10"})
    worker_processes(concurrency=2, queues="sales", env={"SALES_BATCH_STEP": "10"})
    jobs = [wait_for_status(app, job_id, timeout=120) for job_id in ids]
    assert [(j.status, j.attempts) for j in jobs] == [(JobStatus.succeeded, 1)] * len(jobs)
    assert jobs[0].result["applied"] == 60
    assert invoice_sequences(app) == list(range(1, 101))
    assert_reconciled(app)
