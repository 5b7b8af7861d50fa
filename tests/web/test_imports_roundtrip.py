"""The round trip of issue 9: an export (CSV or XLSX) imported back with `on_existing=update` finds every row
unchanged (`skip`), whatever the catalogue holds: sizes (one with a `/`), a category, a barcode, inactive
products, names with a comma, a quote and a newline, names that look like formulas, non-ASCII text;
and an export edited by hand applies exactly its edits (several sets of changed columns)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from tests.exports_support import export
from tests.imports_support import catalogue, finished, upload
from tests.sales_support import branch, created, product, stock_up

pytestmark = pytest.mark.usefixtures("worker")
NAMES = ['Tee, "blue"\nsoft', "=SUM(A1)", "-5 off", "@home", "+plus", "'=already quoted", "Café crème ☕ 日本"]


@pytest.fixture
def shop(client, admin):
    """Products of every kind the catalogue holds, and stock in branches A and B."""
    category = created(client.post("/api/v1/categories", json={"name": "Ropa & Niños"}, headers=admin))["id"]
    ids = {"a": branch(client, admin, "A")["id"], "b": branch(client, admin, "B")["id"]}
    ids["tee"] = product(client, admin, "TEE-1", name=NAMES[0], price="10.50", cost="4.25", tax_rate="0.21",
                         category_id=category, has_sizes=True, sizes=["S", "M", "10/12"], barcode="8400000000011",
                         description="línea 1\nlínea 2, \"dos\"", min_stock=3)["id"]
    ids["kids"] = product(client, admin, "KIDS", price="0.10", has_sizes=True, sizes=["10/12"])["id"]
    for number, name in enumerate(NAMES[1:]):
        ids[name] = product(client, admin, f"P-{number}", name=name, price="1234567.89", tax_rate="0.1",
                            active=number % 2 == 0)["id"]
    stock_up(client, admin, ids["a"], {(ids["tee"], "S"): 5, (ids["tee"], "10/12"): 2, (ids["=SUM(A1)"], ""): 7})
    stock_up(client, admin, ids["b"], {(ids["tee"], "M"): 9})
    return ids


def exported(client, headers, kind: str, fmt: str, **filters) -> bytes:
    view = export(client, headers, kind, fmt, **filters)
    answer = client.get(f"/api/v1/exports/{view['id']}/file", headers=headers)
    assert answer.status_code == 200
    return answer.data


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_products_export_imports_back_with_every_row_skipped(client, admin, shop, fmt):
    body = exported(client, admin, "products", fmt)
    result = finished(upload(client, admin, body, f"products.{fmt}", on_existing="update"))
    assert result["counts"] == {"new": 0, "update": 0, "skip": 2 + len(NAMES) - 1, "error": 0}, result["samples"]
    assert result["unknown_columns"] == []
    # The same file against a changed catalogue: the change is seen (the comparison is not blind).
    assert client.patch(f"/api/v1/products/{shop['tee']}", json={"price": "10.60"}, headers=admin).status_code == 200
    again = finished(upload(client, admin, body, f"products.{fmt}", on_existing="update"))
    assert [(row["key"], row["changes"]) for row in again["samples"]["update"]] == [("TEE-1", ["price"])]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_branchs_stock_export_imports_back_into_it_with_every_row_skipped(client, admin, shop, fmt):
    body = exported(client, admin, "stock", fmt, branch_id=shop["a"])
    result = finished(upload(client, admin, body, f"stock.{fmt}", kind="stock", branch_id=shop["a"]))
    assert result["counts"] == {"new": 0, "update": 0, "skip": 3, "error": 0}, result["samples"]
    assert result["unknown_columns"] == ["branch"]  # reported, not fatal
    other = finished(upload(client, admin, body, f"stock.{fmt}", kind="stock", branch_id=shop["b"]))
    assert other["counts"]["skip"] == 0  # into another branch the same file changes quantities


def test_an_edited_export_applied_changes_what_was_edited(app, client, admin, shop):
    # A person's usual loop: export, edit some cells, import. Each set of changed columns is one UPDATE.
    rows = list(csv.reader(io.StringIO(exported(client, admin, "products", "csv").decode(), newline="")))
    header, by_sku = rows[0], {row[0]: row for row in rows[1:]}
    edits = {("TEE-1", "price"): "11.00", ("TEE-1", "sizes"): "S|M|10/12|L", ("TEE-1", "description"): "uno",
             ("P-0", "active"): "false", ("P-1", "category"): "Ropa & Niños",
             ("P-2", "name"): "Renamed, \"again\"", ("P-2", "price"): "2.50", ("P-3", "min_stock"): "4"}
    for (sku, column), value in edits.items():
        by_sku[sku][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out).writerows([header, *by_sku.values()])
    result = finished(upload(client, admin, out.getvalue().encode(), mode="apply", on_existing="update"))
    assert result["counts"] == {"new": 0, "update": 5, "skip": 3, "error": 0}, result["samples"]
    products = catalogue(app)
    tee, renamed = products["TEE-1"], products["P-2"]
    assert (tee.price, tee.sizes, tee.description, tee.name) == (Decimal("11.00"), ["S", "M", "10/12", "L"], "uno",
                                                                 NAMES[0])
    assert products["P-0"].active is False and products["P-0"].name == "=SUM(A1)"
    assert products["P-1"].category_id == tee.category_id is not None
    assert (renamed.name, renamed.price) == ('Renamed, "again"', Decimal("2.50"))
    assert products["P-3"].min_stock == 4 and products["KIDS"].sizes == ["10/12"]
