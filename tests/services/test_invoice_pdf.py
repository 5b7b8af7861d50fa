"""The invoice PDF drawn from a snapshot alone: characters the font lacks print as "?" (never vanish),
control and bidi characters are left out, and a long invoice repeats its table header on each page."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone

from models import DocumentKind, Invoice
from services.sales.invoice_pdf import render

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# pdftotext (poppler-utils) reads the PDFs back and DejaVu Sans prints them; `make test` installs both.


def invoice(name: str, lines: int = 1) -> Invoice:
    line = {"name": name, "size": "", "quantity": 1, "unit_price": "1.00", "tax_rate": "0.2100", "net": "1.00",
            "tax": "0.21", "total": "1.21"}
    return Invoice(kind=DocumentKind.invoice, number="B01-2026-000001", sale_id=1, reason=None,
                   created_at=datetime(2026, 11, 20, 12, tzinfo=timezone.utc),
                   seller={"name": "Shop", "code": "B01", "address": None, "terminal_id": "T1"},
                   customer={"name": name, "tax_id": None, "email": None, "phone": None},
                   lines=[line] * lines, tax_summary=[{"rate": "0.2100", "net": "1.00", "tax": "0.21"}],
                   totals={"subtotal": "1.00", "tax": "0.21", "discount": "0.00", "total": "1.21", "paid": "1.21",
                           "change": "0.00"}, payments=[{"method": "card", "amount": "1.21", "credits": None}])


def text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_characters_the_font_lacks_print_as_question_marks():
    printed = text(render(invoice("Zoë \u202eevil\u202c\x07 李雷"), font_path=DEJAVU))
    assert "Zoë evil ??" in printed and "\x07" not in printed and "\u202e" not in printed


def test_a_long_invoice_repeats_its_header_on_each_page():
    printed = text(render(invoice("Mug", lines=60), font_path=None))
    assert printed.count("\f") == 2 and printed.count("Line total") == 2 and printed.count("Mug") == 61
