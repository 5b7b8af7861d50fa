"""Invoices as PDF over HTTP: a real PDF with the invoice's number and total, names in any script,
served from its cache the second time, under the JSON invoice's access rules."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import InvoicePdf, Role
from services.sales import invoice_pdf
from tests.sales_support import branch, product, sale, staff, stock_up

# pdftotext (poppler-utils) reads the PDFs back; `make test` installs it.
pytestmark = pytest.mark.usefixtures("worker")


def pdf_text(pdf: bytes) -> str:
    run = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return run.stdout.decode()


@pytest.fixture
def sold(app, client):
    """A sale of a mug and a Greek-named shirt in branch A, by a seller of A; its invoice's id and number."""
    admin = staff(app, Role.admin)
    a = branch(client, admin, "A", address="Calle Mayor 1, Madrid")["id"]
    mug = product(client, admin, "MUG", price="10.00", tax_rate="0.21")["id"]
    shirt = product(client, admin, "SHIRT", name="Μπλούζα Ñandú", price="20.00", tax_rate="0.10",
                    has_sizes=True, sizes=["M"])["id"]
    stock_up(client, admin, a, {(mug, ""): 5, (shirt, "M"): 5})
    seller = staff(app, Role.seller, a)
    job = client.post("/api/v1/sales", json=sale(a, [(mug, 2), {"product_id": shirt, "size": "M", "quantity": 1}],
                                                 [("cash", "50.00")]), headers={**seller, "Prefer": "wait=20"}).json
    assert job["status"] == "succeeded", job
    return {"admin": admin, "seller": seller, "a": a, "invoice_id": job["result"]["invoice_id"],
            "number": job["result"]["invoice_number"], "sale_id": job["result"]["sale_id"]}


def cached_count(app) -> int:
    with app.extensions["conveyor"].db.read() as session:
        return session.scalar(select(func.count()).select_from(InvoicePdf))


def test_the_invoice_pdf_reads_back_and_is_served_from_its_cache(app, client, sold):
    answer = client.get(f"/api/v1/invoices/{sold['invoice_id']}.pdf", headers=sold["seller"])
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF-")
    assert answer.headers["Content-Disposition"] == f'inline; filename="{sold["number"]}.pdf"'
    text = pdf_text(answer.data)
    if os.environ.get("KEEP_INVOICE_PDF"):  # to look at it: pdftoppm -png -r 80 <file> page
        Path(os.environ["KEEP_INVOICE_PDF"]).write_bytes(answer.data)
    for expected in (sold["number"], "Calle Mayor 1, Madrid", "Product MUG", "Μπλούζα Ñandú",
                     "46.20", "21 %", "10 %", "4.20", "2.00", "50.00", "3.80", "Cash"):
        assert expected in text, (expected, text)
    assert cached_count(app) == 1

    with app.extensions["conveyor"].db.Session.begin() as session:  # a marked copy shows where the next one comes from
        session.get(InvoicePdf, sold["invoice_id"]).pdf = answer.data + b"%cached\n"
    again = client.get(f"/api/v1/invoices/{sold['invoice_id']}.pdf", headers=sold["seller"])
    assert again.status_code == 200 and again.data == answer.data + b"%cached\n"
    assert cached_count(app) == 1


def test_a_credit_note_prints_as_one(app, client, sold):
    manager = staff(app, Role.manager, sold["a"])
    job = client.post(f"/api/v1/sales/{sold['sale_id']}/cancel", json={"reason": "returned"},
                      headers={**manager, "Prefer": "wait=20"}).json
    assert job["status"] == "succeeded", job
    note = client.get(f"/api/v1/sales/{sold['sale_id']}", headers=manager).json["credit_note_id"]
    text = pdf_text(client.get(f"/api/v1/invoices/{note}.pdf", headers=manager).data)
    assert "Credit note" in text and job["result"]["credit_note_number"] in text and "-46.20" in text
    assert "returned" in text


def test_the_pdf_has_the_json_invoices_access_rules(app, client, sold):
    other = staff(app, Role.seller, branch(client, sold["admin"], "B")["id"])
    refused = client.get(f"/api/v1/invoices/{sold['invoice_id']}.pdf", headers=other)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "other_branch"
    assert client.get(f"/api/v1/invoices/{sold['invoice_id']}.pdf").status_code == 401
    assert client.get("/api/v1/invoices/999999.pdf", headers=sold["admin"]).status_code == 404
    assert cached_count(app) == 0  # nothing rendered for those who may not see it
    assert client.get(f"/api/v1/invoices/{sold['invoice_id']}.pdf", headers=sold["admin"]).status_code == 200


def test_without_a_unicode_font_other_scripts_print_as_question_marks(app, client, sold):
    with app.extensions["conveyor"].db.read() as session:
        invoice = session.get(invoice_pdf.Invoice, sold["invoice_id"])
        pdf = invoice_pdf.render(invoice, font_path="/nonexistent/font.ttf")
    text = pdf_text(pdf)
    assert "??????? Ñandú" in text and sold["number"] in text and "46.20" in text
