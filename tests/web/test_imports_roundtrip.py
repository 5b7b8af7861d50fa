"""The round trip of issue 9: an export (CSV or XLSX) imported back with `on_existing=update` finds every row
unchanged (`skip`), whatever the catalogue holds: sizes (one with a `/`), a category, a barcode, inactive
products, names with a comma, a quote and a newline, names that look like formulas, non-ASCII text."""

from __future__ import annotations

import pytest

from tests.exports_support import export
from tests.imports_support import finished, upload
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
