"""GET /api/v1/customers/<id>/invoices: a customer's invoices and credit notes, newest first, in pages;
managers and sellers see only their own branch's."""

from __future__ import annotations

import pytest

from models import Role
from tests.sales_support import branch, created, product, sale, staff, stock_up
from tests.support import make_user

pytestmark = pytest.mark.usefixtures("worker")


def sell(client, headers, body) -> dict:
    job = client.post("/api/v1/sales", json=body, headers={**headers, "Prefer": "wait=20"}).json
    assert job["status"] == "succeeded", job
    return job["result"]


def numbers(client, headers, customer_id, query="") -> list[str]:
    answer = client.get(f"/api/v1/customers/{customer_id}/invoices{query}", headers=headers)
    assert answer.status_code == 200, answer.json
    return [invoice["number"] for invoice in answer.json["items"]]


def test_a_customers_invoices_newest_first_in_their_branch(app, client):
    admin = staff(app, Role.admin)
    a, b = branch(client, admin, "A")["id"], branch(client, admin, "B")["id"]
    mug = product(client, admin, "MUG", price="10.00", tax_rate="0.21")["id"]
    for branch_id in (a, b):
        stock_up(client, admin, branch_id, {(mug, ""): 10})
    seller_a, manager_a, seller_b = staff(app, Role.seller, a), staff(app, Role.manager, a), staff(app, Role.seller, b)
    ada = created(client.post("/api/v1/customers", json={"name": "Ada"}, headers=seller_a))["id"]
    bob = created(client.post("/api/v1/customers", json={"name": "Bob"}, headers=seller_a))["id"]
    first = sell(client, seller_a, sale(a, [(mug, 1)], [("card", "12.10")], customer_id=ada))
    sell(client, seller_a, sale(a, [(mug, 1)], [("card", "12.10")], customer_id=bob))  # another customer's
    sell(client, seller_a, sale(a, [(mug, 1)], [("card", "12.10")]))  # nobody's
    second = sell(client, seller_a, sale(a, [(mug, 2)], [("card", "24.20")], customer_id=ada))
    in_b = sell(client, seller_b, sale(b, [(mug, 1)], [("card", "12.10")], customer_id=ada))
    cancelled = client.post(f"/api/v1/sales/{first['sale_id']}/cancel", json={"reason": "returned"},
                            headers={**manager_a, "Prefer": "wait=20"}).json
    assert cancelled["status"] == "succeeded", cancelled
    note = cancelled["result"]["credit_note_number"]

    everything = [note, in_b["invoice_number"], second["invoice_number"], first["invoice_number"]]
    assert numbers(client, admin, ada) == everything
    page = client.get(f"/api/v1/customers/{ada}/invoices?limit=3", headers=admin).json
    assert page["items"][0]["kind"] == "credit_note" and page["items"][0]["sale_id"] == first["sale_id"]
    assert numbers(client, admin, ada, f"?limit=3&cursor={page['next_cursor']}") == everything[3:]
    own_a = [note, second["invoice_number"], first["invoice_number"]]
    assert numbers(client, seller_a, ada) == numbers(client, manager_a, ada) == own_a
    assert numbers(client, seller_b, ada) == [in_b["invoice_number"]]
    assert numbers(client, staff(app, Role.seller), ada) == []  # in no branch
    assert len(numbers(client, admin, bob)) == 1

    _, shopper = make_user(app)
    assert client.get(f"/api/v1/customers/{ada}/invoices", headers=shopper).status_code == 403
    for unknown in (99999, 2**63):
        missing = client.get(f"/api/v1/customers/{unknown}/invoices", headers=admin)
        assert missing.status_code == 404 and set(missing.json["error"]) == {"code", "message", "details"}
    bad = client.get(f"/api/v1/customers/{ada}/invoices?limit=0", headers=admin)
    assert bad.status_code == 422 and bad.json["error"]["code"] == "validation_error"
