"""Branches, categories and products over HTTP: CRUD, search and paging, validation at the door, roles."""

from __future__ import annotations

import pytest

from models import Role
from tests.sales_support import branch, counts, created, product, staff


def test_branches_crud_and_duplicate_code(app, client, admin):
    made = branch(client, admin, "B01", address="Main St 1", timezone="Europe/Madrid")
    assert made["timezone"] == "Europe/Madrid" and made["active"] is True
    assert branch(client, admin, "B02")["timezone"] == "UTC"
    duplicate = client.post("/api/v1/branches", json={"name": "Again", "code": "B01"}, headers=admin)
    assert duplicate.status_code == 409 and duplicate.json["error"]["code"] == "branch_code_taken"
    taken = client.patch(f"/api/v1/branches/{made['id']}", json={"code": "B02"}, headers=admin)
    assert taken.status_code == 409 and taken.json["error"]["code"] == "branch_code_taken"
    closed = client.patch(f"/api/v1/branches/{made['id']}", json={"active": False, "name": "Old"}, headers=admin)
    assert closed.status_code == 200 and closed.json["active"] is False and closed.json["code"] == "B01"
    reader = staff(app, Role.customer)
    listed = client.get("/api/v1/branches?active=true", headers=reader).json
    assert [b["code"] for b in listed["items"]] == ["B02"]
    assert client.get(f"/api/v1/branches/{made['id']}", headers=reader).json["name"] == "Old"


def test_a_manager_changes_only_their_own_branch_and_opens_none(app, client, admin):
    own, other = branch(client, admin, "B01"), branch(client, admin, "B02")
    manager = staff(app, Role.manager, own["id"])
    assert client.patch(f"/api/v1/branches/{own['id']}", json={"name": "Mine"}, headers=manager).status_code == 200
    elsewhere = client.patch(f"/api/v1/branches/{other['id']}", json={"name": "Theirs"}, headers=manager)
    assert elsewhere.status_code == 403 and elsewhere.json["error"]["code"] == "other_branch"
    assert client.post("/api/v1/branches", json={"name": "X", "code": "B09"}, headers=manager).status_code == 403
    seller = staff(app, Role.seller, own["id"])
    assert client.patch(f"/api/v1/branches/{own['id']}", json={"name": "S"}, headers=seller).status_code == 403
    assert client.get(f"/api/v1/branches/{other['id']}", headers=manager).json["name"] == "Branch B02"


def test_categories_nest_one_level(client, admin):
    top = created(client.post("/api/v1/categories", json={"name": "Clothes"}, headers=admin))
    child = created(client.post("/api/v1/categories", json={"name": "Shirts", "parent_id": top["id"]},
                                headers=admin))
    deeper = client.post("/api/v1/categories", json={"name": "Polo", "parent_id": child["id"]}, headers=admin)
    assert deeper.status_code == 422 and deeper.json["error"]["code"] == "invalid_parent"
    under_self = client.patch(f"/api/v1/categories/{top['id']}", json={"parent_id": top["id"]}, headers=admin)
    assert under_self.status_code == 422 and under_self.json["error"]["code"] == "invalid_parent"
    other = created(client.post("/api/v1/categories", json={"name": "Shoes"}, headers=admin))
    parent_with_children = client.patch(f"/api/v1/categories/{top['id']}", json={"parent_id": other["id"]},
                                        headers=admin)
    assert parent_with_children.status_code == 422
    missing = client.post("/api/v1/categories", json={"name": "X", "parent_id": 999}, headers=admin)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "category_not_found"
    listed = client.get(f"/api/v1/categories?parent_id={top['id']}", headers=admin)
    assert listed.status_code == 200, listed.json
    children = listed.json["items"]
    assert [c["name"] for c in children] == ["Shirts"]


def test_products_crud_search_filter_and_pages(app, client, admin):
    shirts = created(client.post("/api/v1/categories", json={"name": "Shirts"}, headers=admin))
    made = product(client, admin, "TS-1", name="Blue T-shirt", barcode="8400000000011", price="19.99",
                   cost="7.5", tax_rate="0.21", category_id=shirts["id"], has_sizes=True, sizes=["S", "M", "L"],
                   min_stock=3)
    assert made["price"] == "19.99" and made["cost"] == "7.50" and made["tax_rate"] == "0.2100"
    assert made["sizes"] == ["S", "M", "L"] and made["has_sizes"] is True
    product(client, admin, "MUG-1", name="Mug 100%_off", price=5)
    for n in range(3):
        product(client, admin, f"PEN-{n}", name=f"Pen {n}", active=n != 2)
    reader = staff(app, Role.seller)

    def search(query):
        return [p["sku"] for p in client.get(f"/api/v1/products?{query}", headers=reader).json["items"]]

    assert search("q=t-SHIRT") == ["TS-1"]
    assert search("q=8400000000011") == ["TS-1"] and search("q=MUG-1") == ["MUG-1"]
    assert search("q=100%25_") == ["MUG-1"] and search("q=%25") == ["MUG-1"]  # LIKE wildcards are literal
    assert search(f"category_id={shirts['id']}") == ["TS-1"]
    assert search("active=false") == ["PEN-2"]
    first = client.get("/api/v1/products?limit=2", headers=reader).json
    second = client.get(f"/api/v1/products?limit=2&cursor={first['next_cursor']}", headers=reader).json
    third = client.get(f"/api/v1/products?limit=2&cursor={second['next_cursor']}", headers=reader).json
    assert [p["sku"] for p in first["items"] + second["items"] + third["items"]] == [
        "PEN-2", "PEN-1", "PEN-0", "MUG-1", "TS-1"]
    assert third["next_cursor"] is None
    changed = client.patch(f"/api/v1/products/{made['id']}", json={"price": "21", "has_sizes": False},
                           headers=staff(app, Role.manager))
    assert changed.status_code == 200 and changed.json["price"] == "21.00" and changed.json["sizes"] == []
    assert client.get(f"/api/v1/products/{made['id']}", headers=reader).json["price"] == "21.00"
    assert client.post("/api/v1/products", json={"sku": "X", "name": "X", "price": "1"},
                       headers=reader).status_code == 403


def test_duplicate_sku_and_barcode_are_409_with_their_codes(app, client, admin):
    first = product(client, admin, "A-1", barcode="111")
    other = product(client, admin, "B-1")
    before = counts(app)
    for body, code in [({"sku": "A-1", "name": "x", "price": "1"}, "sku_taken"),
                       ({"sku": "C-1", "barcode": "111", "name": "x", "price": "1"}, "barcode_taken")]:
        answer = client.post("/api/v1/products", json=body, headers=admin)
        assert answer.status_code == 409 and answer.json["error"]["code"] == code
    for change, code in [({"sku": "A-1"}, "sku_taken"), ({"barcode": "111"}, "barcode_taken")]:
        answer = client.patch(f"/api/v1/products/{other['id']}", json=change, headers=admin)
        assert answer.status_code == 409 and answer.json["error"]["code"] == code
    assert counts(app) == before
    assert client.get(f"/api/v1/products/{other['id']}", headers=admin).json["sku"] == "B-1"
    # No barcode is no collision.
    product(client, admin, "D-1")
    assert client.patch(f"/api/v1/products/{first['id']}", json={"barcode": None}, headers=admin).status_code == 200


BAD_PRODUCTS = [
    ({"price": "1.234"}, "price"), ({"price": 1.005}, "price"), ({"price": "-1"}, "price"),
    ({"price": "10000000000.00"}, "price"), ({"price": "NaN"}, "price"), ({"price": "Infinity"}, "price"),
    ({"price": "ten"}, "price"), ({"price": None}, "price"), ({"cost": "0.001"}, "cost"),
    ({"tax_rate": "1.5"}, "tax_rate"), ({"tax_rate": "0.12345"}, "tax_rate"), ({"tax_rate": "-0.1"}, "tax_rate"),
    ({"name": "x" * 201}, "name"), ({"name": ""}, "name"), ({"name": "a\u0000b"}, "name"),
    ({"name": "\ud800"}, "name"), ({"description": "d" * 5001}, "description"), ({"sku": "has space"}, "sku"),
    ({"sku": "s" * 65}, "sku"), ({"barcode": ""}, "barcode"), ({"min_stock": 2**31}, "min_stock"),
    ({"min_stock": -1}, "min_stock"), ({"min_stock": 1.5}, "min_stock"), ({"min_stock": "3"}, "min_stock"),
    ({"has_sizes": True}, "sizes"), ({"has_sizes": True, "sizes": []}, "sizes"), ({"sizes": ["S"]}, "sizes"),
    ({"has_sizes": True, "sizes": ["S", "S"]}, "sizes"), ({"has_sizes": True, "sizes": ["x" * 17]}, "sizes"),
    ({"category_id": 2**31}, "category_id"), ({"category_id": 0}, "category_id"),
]


@pytest.mark.parametrize("change,field", BAD_PRODUCTS)
def test_a_bad_product_is_422_and_writes_nothing(app, client, admin, change, field):
    before = counts(app)
    body = {"sku": "OK-1", "name": "Fine", "price": "1.00", **change}
    answer = client.post("/api/v1/products", json=body, headers=admin)
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["code"] == "validation_error" and field in answer.json["error"]["details"]["json"]
    assert counts(app) == before


@pytest.mark.parametrize("body,status,code", [
    ({"name": "B", "code": "B 1"}, 422, "validation_error"),
    ({"name": "B", "code": "B1", "timezone": "Mars/Olympus"}, 422, "validation_error"),
    ({"name": "B", "code": "B1", "timezone": "../../etc/passwd"}, 422, "validation_error"),
    ({"name": "B", "code": "B" * 17}, 422, "validation_error"),
    ({"name": "B\u0000", "code": "B1"}, 422, "validation_error"),
    ({"code": "B1"}, 422, "validation_error"),
])
def test_a_bad_branch_is_refused_and_writes_nothing(app, client, admin, body, status, code):
    before = counts(app)
    answer = client.post("/api/v1/branches", json=body, headers=admin)
    assert answer.status_code == status and answer.json["error"]["code"] == code
    assert counts(app) == before


def test_changing_a_product_validates_against_what_is_stored(app, client, admin):
    made = product(client, admin, "TS-1", has_sizes=True, sizes=["S", "M"])
    for change, code in [({"sizes": []}, "sizes_required"), ({"sizes": ["S", "S"]}, "validation_error"),
                         ({"price": "0.001"}, "validation_error")]:
        answer = client.patch(f"/api/v1/products/{made['id']}", json=change, headers=admin)
        assert answer.status_code == 422 and answer.json["error"]["code"] == code, answer.json
    plain = product(client, admin, "P-1")
    answer = client.patch(f"/api/v1/products/{plain['id']}", json={"sizes": ["S"]}, headers=admin)
    assert answer.status_code == 422 and answer.json["error"]["code"] == "sizes_not_allowed"
    assert client.get(f"/api/v1/products/{made['id']}", headers=admin).json["sizes"] == ["S", "M"]


@pytest.mark.parametrize("path", ["/api/v1/branches/0", "/api/v1/branches/99999999999999999999",
                                  "/api/v1/products/2147483648", "/api/v1/categories/5"])
def test_unknown_ids_are_404(client, admin, path):
    answer = client.get(path, headers=admin)
    assert answer.status_code == 404 and answer.json["error"]["code"].endswith("not_found")


def test_reading_needs_a_sign_in(client):
    assert client.get("/api/v1/products").status_code == 401
