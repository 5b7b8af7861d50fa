"""Reports over HTTP with a real worker: daily summaries equal the sales made (in the branch's own
day), re-summing changes nothing, beat sums each closed branch-day once, low stock and its crossings, the dashboard,
CSV that a spreadsheet cannot run, each branch's staff seeing only their branch, bad input refused."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from config import load_settings
from models import DailySummary, Job, LowStockEvent, Role, Sale
from services import billing
from tasks.beat import CLOSE_LOOKBACK_DAYS, close_days, start_job
from tests.sales_support import branch, created, product, sale, staff, stock_up
from tests.support import make_user, wait_for_status
from worker.schedule import beat_schedule
from worker.submission import enqueue

pytestmark = pytest.mark.usefixtures("worker")
MADRID = ZoneInfo("Europe/Madrid")
DAY = date(2026, 11, 20)  # a Friday in Madrid's winter time: UTC+1


@pytest.fixture
def shop(app, client):
    """Branch M in Madrid and B in UTC; a mug (10.00, 21 %, minimum 3) and a pen (0.10, 25 %), stocked in M."""
    admin = staff(app, Role.admin)
    ids = {"admin": admin, "m": branch(client, admin, "M", timezone="Europe/Madrid")["id"],
           "b": branch(client, admin, "B")["id"],
           "mug": product(client, admin, "MUG", price="10.00", tax_rate="0.21", min_stock=3)["id"],
           "pen": product(client, admin, "PEN", price="0.10", tax_rate="0.25")["id"]}
    stock_up(client, admin, ids["m"], {(ids["mug"], ""): 20, (ids["pen"], ""): 20})
    ids["seller"] = staff(app, Role.seller, ids["m"])
    ids["manager"] = staff(app, Role.manager, ids["m"])
    return ids


def sell(client, headers, body) -> int:
    job = client.post("/api/v1/sales", json=body, headers={**headers, "Prefer": "wait=20"}).json
    assert job["status"] == "succeeded", job
    return job["result"]["sale_id"]


def made_at(app, sale_id, local: datetime, cancelled: datetime | None = None) -> None:
    """Move a sale (and its cancellation) to a local moment at its branch: sales are recorded `now`."""
    values = {"created_at": local.astimezone(timezone.utc)}
    if cancelled is not None:
        values["cancelled_at"] = cancelled.astimezone(timezone.utc)
    with app.extensions["conveyor"].db.Session.begin() as session:
        session.execute(update(Sale).where(Sale.id == sale_id).values(**values))


def rebuild(client, admin, first, last, branch_id=None) -> dict:
    body = {"from": str(first), "to": str(last), **({"branch_id": branch_id} if branch_id else {})}
    job = client.post("/api/v1/admin/reports/daily/rebuild", json=body, headers={**admin, "Prefer": "wait=20"}).json
    assert job["status"] == "succeeded" and job["kind"] == "reports.rebuild_daily", job
    return job


def daily(client, headers, first, last=None, **args) -> list[dict]:
    answer = client.get("/api/v1/reports/daily", headers=headers,
                        query_string={"from": str(first), "to": str(last or first), **args})
    assert answer.status_code == 200, answer.json
    return answer.json["items"]


def figures(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "computed_at"}


def summary_count(app) -> int:
    with app.extensions["conveyor"].db.read() as session:
        return session.scalar(select(func.count()).select_from(DailySummary))


@pytest.fixture
def a_day_of_sales(app, client, shop):
    """Three sales in M on DAY: a discounted card sale, a credits-and-cash sale with change, and one
    cancelled that afternoon."""
    user_id, _ = make_user(app)
    with app.extensions["conveyor"].db.Session.begin() as session:
        billing.top_up(session, user_id, 5000, event_id="seed")
    customer = created(client.post("/api/v1/customers", json={"name": "Ada", "user_id": user_id},
                                   headers=shop["seller"]))["id"]
    m, mug, pen = shop["m"], shop["mug"], shop["pen"]
    first = sell(client, shop["manager"], sale(m, [(mug, 2)], [("card", "24.00")], discount="0.20"))
    second = sell(client, shop["seller"], sale(m, [(mug, 1), (pen, 1)], [("credits", "10.00"), ("cash", "5.00")],
                                               customer_id=customer))
    third = sell(client, shop["seller"], sale(m, [(pen, 2)], [("cash", "0.25")]))
    cancel = client.post(f"/api/v1/sales/{third}/cancel", json={"reason": "mistake"},
                         headers={**shop["manager"], "Prefer": "wait=20"}).json
    assert cancel["status"] == "succeeded", cancel
    for sale_id, hour in ((first, 10), (second, 12)):
        made_at(app, sale_id, datetime.combine(DAY, datetime.min.time(), MADRID).replace(hour=hour))
    made_at(app, third, datetime(2026, 11, 20, 16, tzinfo=MADRID), cancelled=datetime(2026, 11, 20, 17, tzinfo=MADRID))
    return shop


def test_a_days_summary_equals_its_sales_and_a_rerun_changes_nothing(app, client, a_day_of_sales):
    shop = a_day_of_sales
    assert rebuild(client, shop["admin"], DAY, DAY, shop["m"])["result"] == {"branches": 1, "days": 1, "summaries": 1}
    [row] = daily(client, shop["seller"], DAY)
    assert figures(row) == {
        "branch_id": shop["m"], "day": str(DAY), "timezone": "Europe/Madrid", "sales_count": 3,
        "subtotal": "30.30", "tax": "6.38", "discount": "0.20", "total": "36.48",
        "cancelled_count": 1, "cancelled_total": "0.25",
        # cash: 5.00 given - 2.77 change + 0.25; the methods add up to the total
        "by_payment": {"cash": "2.48", "card": "24.00", "credits": "10.00"},
        "top_products": [{"product_id": shop["mug"], "sku": "MUG", "name": "Product MUG", "quantity": 3,
                          "total": "36.30"},
                         {"product_id": shop["pen"], "sku": "PEN", "name": "Product PEN", "quantity": 3,
                          "total": "0.38"}]}
    rebuild(client, shop["admin"], DAY - timedelta(days=1), DAY + timedelta(days=1))  # every branch, three days
    again = daily(client, shop["admin"], DAY, branch_id=shop["m"])
    assert [figures(r) for r in again] == [figures(row)]
    assert summary_count(app) == 2 * 3
    assert daily(client, shop["admin"], DAY + timedelta(days=1), branch_id=shop["m"])[0]["sales_count"] == 0


def test_a_sale_belongs_to_the_branchs_local_day(app, client, shop):
    m, mug = shop["m"], shop["mug"]
    late = sell(client, shop["seller"], sale(m, [(mug, 1)], [("card", "12.10")]))
    after_midnight = sell(client, shop["seller"], sale(m, [(mug, 2)], [("card", "24.20")]))
    made_at(app, late, datetime(2026, 11, 20, 23, 30, tzinfo=MADRID))  # 22:30 UTC on the 20th
    made_at(app, after_midnight, datetime(2026, 11, 21, 0, 30, tzinfo=MADRID))  # 23:30 UTC, still the 20th in UTC
    rebuild(client, shop["admin"], DAY, DAY + timedelta(days=1), m)
    rows = daily(client, shop["seller"], DAY, DAY + timedelta(days=1))
    assert [(r["day"], r["sales_count"], r["total"]) for r in rows] == [
        ("2026-11-20", 1, "12.10"), ("2026-11-21", 1, "24.20")]


def test_beat_sums_each_branchs_closed_days_once(app, client, shop):
    sold = sell(client, shop["seller"], sale(shop["m"], [(shop["mug"], 1)], [("card", "12.10")]))
    yesterday = datetime.now(MADRID).date() - timedelta(days=1)
    made_at(app, sold, datetime.combine(yesterday, datetime.min.time(), MADRID).replace(hour=12))
    assert close_days.apply().get() == 2 * CLOSE_LOOKBACK_DAYS
    assert close_days.apply().get() == 0  # each branch-day once, however often beat passes
    with app.extensions["conveyor"].db.read() as session:
        jobs = session.scalars(select(Job).where(Job.kind == "reports.daily_summary")).all()
    assert len(jobs) == 2 * CLOSE_LOOKBACK_DAYS and all(job.owner_id is None for job in jobs)
    for job in jobs:
        assert wait_for_status(app, job.id).status.value == "succeeded"
    rows = daily(client, shop["seller"], yesterday - timedelta(days=CLOSE_LOOKBACK_DAYS - 1), yesterday)
    assert [r["day"] for r in rows][-1] == str(yesterday) and len(rows) == CLOSE_LOOKBACK_DAYS
    assert (rows[-1]["sales_count"], rows[-1]["total"]) == (1, "12.10")
    assert summary_count(app) == 2 * CLOSE_LOOKBACK_DAYS


def test_low_stock_lists_rows_at_or_below_their_minimum_and_exports_safe_csv(app, client, shop):
    admin = shop["admin"]
    formula = product(client, admin, "EVIL", name='=HYPERLINK("http://x","click"), "quoted"', min_stock=5)["id"]
    stock_up(client, admin, shop["m"], {(formula, ""): 5})
    stock_up(client, admin, shop["b"], {(shop["mug"], ""): 4})
    sell(client, shop["seller"], sale(shop["m"], [(shop["mug"], 17)], [("card", "205.70")]))  # 20 -> 3: at minimum
    rows = client.get("/api/v1/reports/low-stock", headers=shop["seller"]).json["items"]
    assert [(r["sku"], r["quantity"], r["min_stock"]) for r in rows] == [("EVIL", 5, 5), ("MUG", 3, 3)]
    assert client.get("/api/v1/reports/low-stock", headers=admin).json["items"] == rows  # B's 4 mugs are above 3
    answer = client.get("/api/v1/reports/low-stock?format=csv", headers=shop["seller"])
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert table[0] == ["branch_id", "branch_code", "product_id", "sku", "name", "size", "quantity", "reserved",
                        "min_stock", "low_since"]
    assert table[1][4] == "'" + '=HYPERLINK("http://x","click"), "quoted"'  # one cell, kept as text
    assert table[2] == [str(shop["m"]), "M", str(shop["mug"]), "MUG", "Product MUG", "", "3", "0", "3", ""]


def low_stock_job(app, client) -> dict:
    """Run the job beat starts every 15 minutes (beat's own key is its minute: one job a minute)."""
    with app.app_context(), app.extensions["conveyor"].db.Session.begin() as session:
        job_id = enqueue(session, "reports.low_stock_events", {})[0].id
    job = wait_for_status(app, job_id)
    assert job.status.value == "succeeded" and job.owner_id is None, job.error
    return job.result


def test_each_fall_below_the_minimum_is_recorded_once(app, client, shop):
    m, mug, seller = shop["m"], shop["mug"], shop["seller"]
    entry = beat_schedule(load_settings())["low-stock-events"]
    first = wait_for_status(app, start_job.apply(args=entry["args"]).get())
    assert first.owner_id is None and first.result == {"opened": 0, "resolved": 0}  # 20 mugs, minimum 3
    sell(client, seller, sale(m, [(mug, 17)], [("card", "205.70")]))
    assert low_stock_job(app, client) == {"opened": 1, "resolved": 0}
    assert low_stock_job(app, client) == {"opened": 0, "resolved": 0}  # the same crossing, still low
    [row] = client.get("/api/v1/reports/low-stock", headers=seller).json["items"]
    assert row["sku"] == "MUG" and row["low_since"] is not None
    stock_up(client, shop["admin"], m, {(mug, ""): 5})
    assert low_stock_job(app, client) == {"opened": 0, "resolved": 1}
    assert client.get("/api/v1/reports/low-stock", headers=seller).json["items"] == []
    sell(client, seller, sale(m, [(mug, 6)], [("card", "72.60")]))  # a new fall, a new event
    assert low_stock_job(app, client) == {"opened": 1, "resolved": 0}
    with app.extensions["conveyor"].db.read() as session:
        events = session.scalars(select(LowStockEvent).order_by(LowStockEvent.id)).all()
    assert [(e.quantity, e.resolved_at is not None) for e in events] == [(3, True), (2, False)]


def test_the_daily_report_as_csv(app, client, a_day_of_sales):
    shop = a_day_of_sales
    rebuild(client, shop["admin"], DAY, DAY)
    answer = client.get("/api/v1/reports/daily", headers=shop["admin"],
                        query_string={"from": str(DAY), "to": str(DAY), "format": "csv"})
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(r["branch_id"], r["sales_count"], r["total"], r["paid_cash"], r["paid_credits"]) for r in table] == [
        (str(shop["m"]), "3", "36.48", "2.48", "10.00"), (str(shop["b"]), "0", "0.00", "0.00", "0.00")]


def test_the_dashboard_shows_today_so_far_and_the_last_week(app, client, shop):
    m = shop["m"]
    sell(client, shop["seller"], sale(m, [(shop["pen"], 4)], [("card", "0.50")]))  # now
    earlier = sell(client, shop["seller"], sale(m, [(shop["mug"], 1)], [("card", "12.10")]))
    today = datetime.now(MADRID).date()
    made_at(app, earlier, datetime.combine(today - timedelta(days=2), datetime.min.time(), MADRID).replace(hour=9))
    rebuild(client, shop["admin"], today - timedelta(days=7), today - timedelta(days=1), m)
    board = client.get("/api/v1/reports/dashboard", headers=shop["seller"]).json
    [mine] = board["branches"]
    assert mine["branch_id"] == m and mine["today"] == str(today)
    assert (mine["today_figures"]["sales_count"], mine["today_figures"]["total"]) == (1, "0.50")
    assert [d["day"] for d in mine["last_7_days"]] == [str(today - timedelta(days=n)) for n in range(7, 0, -1)]
    assert [d["total"] for d in mine["last_7_days"]][-3:] == ["0.00", "12.10", "0.00"]
    assert [(p["sku"], p["quantity"]) for p in board["top_products"]] == [("PEN", 4), ("MUG", 1)]
    everyone = client.get("/api/v1/reports/dashboard", headers=shop["admin"]).json
    assert [b["code"] for b in everyone["branches"]] == ["M", "B"]
    assert everyone["branches"][1]["last_7_days"][0]["total"] is None  # B's days were never summed


def test_staff_see_only_their_branch(app, client, a_day_of_sales):
    shop = a_day_of_sales
    rebuild(client, shop["admin"], DAY, DAY)
    assert [r["branch_id"] for r in daily(client, shop["admin"], DAY)] == [shop["m"], shop["b"]]
    assert [r["branch_id"] for r in daily(client, shop["seller"], DAY)] == [shop["m"]]
    for path in ("/api/v1/reports/daily", "/api/v1/reports/low-stock", "/api/v1/reports/dashboard"):
        refused = client.get(path, headers=shop["seller"],
                             query_string={"branch_id": shop["b"], "from": str(DAY), "to": str(DAY)})
        assert refused.status_code == 403 and refused.json["error"]["code"] == "other_branch", path
    nowhere = staff(app, Role.seller)
    assert daily(client, nowhere, DAY) == []
    assert client.get("/api/v1/reports/daily", query_string={"from": str(DAY), "to": str(DAY)}).status_code == 401
    customer_only = make_user(app)[1]
    assert client.get("/api/v1/reports/dashboard", headers=customer_only).status_code == 403
    refused = client.post("/api/v1/admin/reports/daily/rebuild", json={"from": str(DAY), "to": str(DAY)},
                          headers=shop["manager"])
    assert refused.status_code == 403


@pytest.mark.parametrize("query, code", [
    ({"from": "2026-11-21", "to": "2026-11-20"}, "invalid_range"),
    ({"from": "2025-01-01", "to": "2026-01-02"}, "range_too_long"),
    ({"from": "2026-13-01", "to": "2026-11-20"}, "validation_error"),
    ({"from": "yesterday", "to": "2026-11-20"}, "validation_error"),
    ({"from": "9999-12-31", "to": "9999-12-31"}, "validation_error"),
    ({"to": "2026-11-20"}, "validation_error"),
    ({"from": "2026-11-20", "to": "2026-11-20", "format": "xml"}, "validation_error"),
    ({"from": "2026-11-20", "to": "2026-11-20", "branch_id": "x"}, "validation_error"),
])
def test_bad_ranges_are_refused_and_write_nothing(app, client, shop, query, code):
    answer = client.get("/api/v1/reports/daily", headers=shop["admin"], query_string=query)
    assert 400 <= answer.status_code < 500 and answer.json["error"]["code"] == code, answer.json
    with app.extensions["conveyor"].db.read() as session:
        jobs_before = session.scalar(select(func.count()).select_from(Job))
    refused = client.post("/api/v1/admin/reports/daily/rebuild", json=query, headers=shop["admin"])
    assert 400 <= refused.status_code < 500, refused.json
    unknown = client.post("/api/v1/admin/reports/daily/rebuild",
                          json={"from": "2026-11-20", "to": "2026-11-20", "branch_id": 999999}, headers=shop["admin"])
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "branch_not_found"
    with app.extensions["conveyor"].db.read() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == jobs_before
    assert summary_count(app) == 0
