"""Exports over HTTP with a real worker: each kind in CSV and XLSX read back (csv, python-calamine), the
filters, who may export what, 404 until ready and 410 after expiry, a 20,000-row export, bad input."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import text, update

from models import Export, ExportFormat, ExportKind, Job, Role, Sale
from models.base import utcnow
from tests.exports_support import export
from tests.sales_support import branch, created, product, sale, staff, stock_up
from tests.support import load_job, make_user

pytestmark = pytest.mark.usefixtures("worker")
PRODUCTS_HEADER = ["sku", "name", "price", "cost", "tax_rate", "category", "sizes", "barcode", "active", "description",
                   "min_stock"]  # the importer's canonical columns
STOCK_HEADER = ["branch", "sku", "size", "quantity", "mode"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(client, headers, view) -> list[list]:
    """The export's file, parsed: rows of text (CSV) or of typed cells (XLSX)."""
    answer = client.get(f"/api/v1/exports/{view['id']}/file", headers=headers)
    assert answer.status_code == 200, answer.json
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{view["filename"]}"'
    assert int(answer.headers["Content-Length"]) == view["size"] == len(answer.data)
    if view["format"] == "csv":
        assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
        return list(csv.reader(io.StringIO(answer.data.decode("utf-8"), newline="")))
    assert answer.headers["Content-Type"] == XLSX
    return CalamineWorkbook.from_filelike(io.BytesIO(answer.data)).get_sheet_by_name(view["kind"]).to_python()


@pytest.fixture
def shop(app, client):
    """Branches A and B; mugs in two sizes (category Mugs), a pen with a barcode, and an inactive
    product whose name starts like a formula; stock in both branches; a manager in A, a customer."""
    admin = staff(app, Role.admin)
    mugs = created(client.post("/api/v1/categories", json={"name": "Mugs"}, headers=admin))["id"]
    ids = {"admin": admin, "mugs": mugs, "a": branch(client, admin, "A")["id"], "b": branch(client, admin, "B")["id"],
           "mug": product(client, admin, "MUG", price="10.50", cost="4.00", tax_rate="0.21", category_id=mugs,
                          has_sizes=True, sizes=["S", "M"])["id"],
           "pen": product(client, admin, "PEN", price="0.10", barcode="8400000000017")["id"],
           "old": product(client, admin, "OLD", name="=HYPERLINK(1)", price="1.00", active=False)["id"]}
    stock_up(client, admin, ids["a"], {(ids["mug"], "S"): 5, (ids["pen"], ""): 7})
    stock_up(client, admin, ids["b"], {(ids["mug"], "M"): 2})
    ids["manager"] = staff(app, Role.manager, ids["a"])
    ids["customer"] = make_user(app)[1]
    return ids


def test_products_export_as_csv_in_the_importers_columns(client, shop):
    view = export(client, shop["customer"], "products")  # whoever may read the catalogue may export it
    assert view["rows"] == 3 and view["kind"] == "products" and view["progress"] == {"done": 3, "total": 3}
    assert download(client, shop["customer"], view) == [
        PRODUCTS_HEADER,
        ["MUG", "Product MUG", "10.50", "4.00", "0.2100", "Mugs", "S|M", "", "true", "", "0"],
        ["OLD", "'=HYPERLINK(1)", "1.00", "0.00", "0.0000", "", "", "", "false", "", "0"],  # text, never a formula
        ["PEN", "Product PEN", "0.10", "0.00", "0.0000", "", "", "8400000000017", "true", "", "0"]]


def test_products_export_as_xlsx_has_typed_cells(client, shop):
    view = export(client, shop["admin"], "products", "xlsx")
    assert download(client, shop["admin"], view) == [
        PRODUCTS_HEADER,
        ["MUG", "Product MUG", 10.5, 4.0, 0.21, "Mugs", "S|M", "", True, "", 0.0],
        ["OLD", "=HYPERLINK(1)", 1.0, 0.0, 0.0, "", "", "", False, "", 0.0],  # a string cell: never run
        ["PEN", "Product PEN", 0.1, 0.0, 0.0, "", "", "8400000000017", True, "", 0.0]]


def test_products_filters(client, shop):
    assert [row[0] for row in download(client, shop["admin"], export(
        client, shop["admin"], "products", category_id=shop["mugs"]))[1:]] == ["MUG"]
    assert [row[0] for row in download(client, shop["admin"], export(
        client, shop["admin"], "products", "xlsx", active=False))[1:]] == ["OLD"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_stock_export_for_an_admin_covers_every_branch_or_the_one_named(client, shop, fmt):
    quantity = (lambda q: str(q)) if fmt == "csv" else float
    rows = download(client, shop["admin"], export(client, shop["admin"], "stock", fmt))
    assert rows == [STOCK_HEADER, ["A", "MUG", "S", quantity(5), "set"], ["A", "PEN", "", quantity(7), "set"],
                    ["B", "MUG", "M", quantity(2), "set"]]
    view = export(client, shop["admin"], "stock", fmt, branch_id=shop["b"])
    assert view["filters"] == {"branch_id": shop["b"]}
    assert download(client, shop["admin"], view) == [STOCK_HEADER, ["B", "MUG", "M", quantity(2), "set"]]


def test_a_manager_exports_their_own_branchs_stock_only(client, shop):
    view = export(client, shop["manager"], "stock")
    assert view["filters"] == {"branch_id": shop["a"]}  # their branch, filled in
    assert [row[0] for row in download(client, shop["manager"], view)[1:]] == ["A", "A"]
    answer = client.post("/api/v1/exports", json={"kind": "stock", "filters": {"branch_id": shop["b"]}},
                         headers=shop["manager"])
    assert answer.status_code == 403 and answer.json["error"]["code"] == "other_branch"


@pytest.mark.parametrize("kind", ["stock", "sales"])
def test_customers_and_staff_without_a_branch_may_not_export_stock_or_sales(app, client, shop, kind):
    answer = client.post("/api/v1/exports", json={"kind": kind}, headers=shop["customer"])
    assert answer.status_code == 403 and answer.json["error"]["code"] == "forbidden"
    answer = client.post("/api/v1/exports", json={"kind": kind}, headers=staff(app, Role.seller))
    assert answer.status_code == 403 and answer.json["error"]["code"] == "no_branch"


def sell(app, client, headers, branch_id, items, at: datetime) -> int:
    job = client.post("/api/v1/sales", json=sale(branch_id, items, [("cash", "100.00")]),
                      headers={**headers, "Prefer": "wait=20"}).json
    assert job["status"] == "succeeded", job
    with app.extensions["conveyor"].db.Session.begin() as session:
        session.execute(update(Sale).where(Sale.id == job["result"]["sale_id"]).values(created_at=at))
    return job["result"]["sale_id"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_sales_export_by_branch_and_days(app, client, shop, fmt):
    seller = staff(app, Role.seller, shop["a"])
    day = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    first = sell(app, client, seller, shop["a"], [{"product_id": shop["mug"], "size": "S", "quantity": 2}], day)
    second = sell(app, client, seller, shop["a"], [(shop["pen"], 3)], day + timedelta(days=1))
    sell(app, client, shop["admin"], shop["b"], [{"product_id": shop["mug"], "size": "M", "quantity": 1}], day)
    view = export(client, seller, "sales", fmt, **{"from": "2026-11-20", "to": "2026-11-21"})
    rows = download(client, seller, view)
    assert view["filters"] == {"branch_id": shop["a"], "from": "2026-11-20", "to": "2026-11-21"}
    header, cells = rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]
    assert header[:3] == ["sale_id", "created_at", "branch"] and "invoice" in header and "total" in header
    total = "25.41" if fmt == "csv" else 25.41  # 2 × 10.50 + 21 %
    assert [(c["sale_id"], c["branch"], c["status"], c["total"]) for c in cells] == [
        (str(first) if fmt == "csv" else float(first), "A", "completed", total),
        (str(second) if fmt == "csv" else float(second), "A", "completed", "0.30" if fmt == "csv" else 0.3)]
    assert cells[0]["created_at"] == day.isoformat() and cells[0]["invoice"]
    one_day = export(client, shop["admin"], "sales", fmt, **{"from": "2026-11-20", "to": "2026-11-20"})
    assert one_day["rows"] == 2  # both branches' sales of the 20th, none of the 21st


def test_an_export_is_its_owners_and_admins(app, client, shop):
    view = export(client, shop["manager"], "products")
    other = staff(app, Role.manager, shop["a"])
    for path in (f"/api/v1/exports/{view['id']}", f"/api/v1/exports/{view['id']}/file"):
        answer = client.get(path, headers=other)
        assert answer.status_code == 404 and answer.json["error"]["code"] == "export_not_found"
        assert client.get(path, headers=shop["admin"]).status_code == 200
    assert client.get("/api/v1/exports", headers=other).json["items"] == []
    listed = client.get("/api/v1/exports", headers=shop["manager"], query_string={"kind": "products"}).json
    assert [item["id"] for item in listed["items"]] == [view["id"]]
    assert client.get("/api/v1/exports", headers=shop["manager"],
                      query_string={"kind": "stock"}).json["items"] == []


def test_the_same_idempotency_key_answers_the_same_export(client, shop):
    headers = {**shop["admin"], "Idempotency-Key": "export-1", "Prefer": "wait=30"}
    first = client.post("/api/v1/exports", json={"kind": "products"}, headers=headers)
    again = client.post("/api/v1/exports", json={"kind": "products"}, headers=headers)
    assert first.status_code == again.status_code == 200 and first.json["id"] == again.json["id"]


def test_the_file_is_404_until_ready_and_410_after_expiry(app, client, shop):
    admin_id = make_user(app, Role.admin)
    waiting = uuid.uuid4()
    with app.extensions["conveyor"].db.Session.begin() as session:
        session.add(Export(id=waiting, owner_id=admin_id[0], kind=ExportKind.products, format=ExportFormat.csv,
                           filters={}, filename="products.csv", created_at=utcnow()))
    answer = client.get(f"/api/v1/exports/{waiting}/file", headers=admin_id[1])
    assert answer.status_code == 404 and answer.json["error"]["code"] == "export_not_ready"
    view = export(client, shop["admin"], "products")
    with app.extensions["conveyor"].db.Session.begin() as session:
        session.execute(update(Export).where(Export.id == uuid.UUID(view["id"]))
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    answer = client.get(f"/api/v1/exports/{view['id']}/file", headers=shop["admin"])
    assert answer.status_code == 410 and answer.json["error"]["code"] == "export_expired"
    assert client.get(f"/api/v1/exports/{view['id']}", headers=shop["admin"]).json["status"] == "expired"


def test_twenty_thousand_rows_stream_out(app, client):
    """In chunks through a server-side cursor (the memory it takes: bench/exports.py); XLSX, whose writer
    is ten times slower, is measured there at this size and beyond."""
    admin = staff(app, Role.admin)
    with app.extensions["conveyor"].db.Session.begin() as session:  # made by the database: quicker than 20,000 binds
        session.execute(text(
            "INSERT INTO products (sku, name, price, cost, tax_rate, has_sizes, sizes, min_stock, active, created_at) "
            "WITH RECURSIVE n(i) AS (SELECT 100000 UNION ALL SELECT i + 1 FROM n WHERE i < 119999) "
            "SELECT 'SKU-' || i, 'Product ' || i, 1.25, 0, 0, false, '[]', 0, true, CURRENT_TIMESTAMP FROM n"))
    view = export(client, admin, "products")
    rows = download(client, admin, view)
    assert view["rows"] == len(rows) - 1 == 20_000 and rows[-1][:4] == ["SKU-119999", "Product 119999", "1.25", "0.00"]
    job = load_job(app, view["id"])
    assert (job.progress_done, job.progress_total) == (20_000, 20_000)


def test_an_export_too_long_for_a_sheet_fails_with_its_reason(client, shop, monkeypatch):
    monkeypatch.setattr("services.exports.files.XLSX_MAX_ROWS", 2)  # the worker runs in this process
    view = client.post("/api/v1/exports", json={"kind": "products", "format": "xlsx"},
                       headers={**shop["admin"], "Prefer": "wait=30"}).json
    assert view["status"] == "failed" and view["error"]["code"] == "too_many_rows", view
    answer = client.get(f"/api/v1/exports/{view['id']}/file", headers=shop["admin"])
    assert answer.status_code == 404 and answer.json["error"]["code"] == "export_not_ready"


@pytest.mark.parametrize("body", [
    {}, {"kind": "orders"}, {"kind": "products", "format": "pdf"}, {"kind": "products", "filters": []},
    {"kind": "products", "filters": {"branch_id": 1}}, {"kind": "products", "filters": {"category_id": 2**31}},
    {"kind": "stock", "filters": {"branch_id": "x"}}, {"kind": "sales", "filters": {"from": "2026-11-21",
                                                                                     "to": "2026-11-20"}},
    {"kind": "sales", "filters": {"to": "9999-12-31"}}, {"kind": "sales", "filters": {"from": "2026-13-01"}},
    {"kind": "products", "extra": 1}, {"kind": "products\u0000"},
])
def test_bad_input_is_422_and_queues_nothing(app, client, shop, body):
    answer = client.post("/api/v1/exports", json=body, headers=shop["admin"])
    assert answer.status_code == 422 and answer.json["error"]["code"] == "validation_error", answer.json
    with app.extensions["conveyor"].db.read() as session:
        assert session.query(Job).filter(Job.kind == "imports.export").count() == 0


def test_unknown_exports_are_404(client, shop):
    for path in (f"/api/v1/exports/{uuid.uuid4()}", f"/api/v1/exports/{uuid.uuid4()}/file"):
        answer = client.get(path, headers=shop["admin"])
        assert answer.status_code == 404 and answer.json["error"]["code"] == "export_not_found"
    assert client.get("/api/v1/exports/not-a-uuid", headers=shop["admin"]).status_code == 404
    answer = client.get("/api/v1/exports", headers=shop["admin"], query_string={"kind": "x", "limit": 0})
    assert answer.status_code == 422
