"""An invoice or credit note as a PDF a person can print (fpdf2), and its cache.

The PDF is drawn from the invoice's own snapshot (seller, customer, lines, tax by rate, totals,
payments), so it says what was issued. With a Unicode TrueType font (INVOICE_FONT_PATH) every name
prints as written; without one, the built-in Helvetica knows only Latin-1, and any other character
prints as "?" rather than failing the whole document.
"""

from __future__ import annotations

import os
import unicodedata
from decimal import Decimal

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import DocumentKind, Invoice, InvoicePdf

TITLE = {DocumentKind.invoice: "Invoice", DocumentKind.credit_note: "Credit note"}
# Column widths (mm) of the lines' table, and their alignment: an A4 page's 190 mm between margins.
LINE_COLUMNS = (("Item", 62, "L"), ("Size", 16, "C"), ("Qty", 16, "R"), ("Unit price", 26, "R"),
                ("Tax", 16, "R"), ("Net", 26, "R"), ("Line total", 28, "R"))


def cached(session: Session, invoice_id: int) -> bytes | None:
    return session.scalar(select(InvoicePdf.pdf).where(InvoicePdf.invoice_id == invoice_id))


def store(session: Session, invoice_id: int, pdf: bytes) -> None:
    """Keep the PDF; a twin rendered meanwhile by another request is the same document, so the first stays."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(InvoicePdf).values(invoice_id=invoice_id, pdf=pdf)
                    .on_conflict_do_nothing(index_elements=["invoice_id"]))


def render(invoice: Invoice, *, font_path: str | None = None) -> bytes:
    """The invoice as PDF bytes; `font_path` a TrueType font with the characters of its names."""
    pdf = _Document(font_path)
    pdf.add_page()
    pdf.heading(invoice)
    pdf.parties(invoice.seller, invoice.customer)
    pdf.lines_table(invoice.lines)
    pdf.tax_summary(invoice.tax_summary)
    pdf.totals(invoice.totals)
    pdf.payments(invoice.payments, invoice.totals)
    return bytes(pdf.output())


def money(value) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01')):,.2f}"


def percent(rate) -> str:
    return f"{(Decimal(str(rate)) * 100).normalize():f} %"


class _Document(FPDF):
    def __init__(self, font_path: str | None):
        super().__init__(format="A4")
        self.set_margins(10, 10, 10)
        self.set_auto_page_break(True, margin=15)
        if font_path and os.path.isfile(font_path):
            self.add_font("body", "", font_path)
            bold = font_path.replace(".ttf", "-Bold.ttf")
            self.add_font("body", "B", bold if os.path.isfile(bold) else font_path)
            self.family, self.unicode = "body", True
        else:
            self.family, self.unicode = "helvetica", False
        self.set_font(self.family, size=10)

    def text_of(self, value) -> str:
        """`value` as the font can print it: a character it has no glyph for becomes "?" (never silently
        dropped), control and bidi-format characters (which could reorder what is read) are left out."""
        text = "".join(c for c in ("" if value is None else str(value))
                       if c == "\n" or unicodedata.category(c) not in ("Cc", "Cf"))
        if not self.unicode:
            return text.encode("latin-1", "replace").decode("latin-1")
        glyphs = self.fonts["body"].cmap
        return "".join(c if c == "\n" or ord(c) in glyphs else "?" for c in text)

    def write_line(self, text, *, size=10, bold=False, height=5.0) -> None:
        self.set_font(self.family, "B" if bold else "", size)
        self.multi_cell(0, height, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def heading(self, invoice: Invoice) -> None:
        self.write_line(f"{TITLE[invoice.kind]} {invoice.number}", size=16, bold=True, height=8)
        self.write_line(f"Date: {invoice.created_at:%Y-%m-%d %H:%M} UTC")
        if invoice.kind == DocumentKind.credit_note:
            self.write_line(f"Credits the invoice of sale {invoice.sale_id}. Reason: {invoice.reason or '-'}")
        self.ln(3)

    def parties(self, seller: dict, customer: dict | None) -> None:
        top = self.get_y()
        self._block(10, top, "Seller", [seller.get("name"), f"Branch code {seller.get('code')}", seller.get("address"),
                                        f"Terminal {seller.get('terminal_id')}"])
        bottom = self.get_y()
        who = ["(no customer named)"] if not customer else [
            customer.get("name"), customer.get("tax_id") and f"Tax id {customer['tax_id']}", customer.get("email"),
            customer.get("phone")]
        self._block(105, top, "Customer", who)
        self.set_xy(10, max(bottom, self.get_y()) + 4)

    def _block(self, x: float, y: float, title: str, rows: list) -> None:
        self.set_xy(x, y)
        self.set_font(self.family, "B", 11)
        self.cell(95, 6, title, new_x="LEFT", new_y="NEXT")
        self.set_font(self.family, "", 10)
        for row in rows:
            if row:
                self.multi_cell(93, 5, self.text_of(row), new_x="LEFT", new_y="NEXT")

    def lines_table(self, lines: list[dict]) -> None:
        header = [name for name, _, _ in LINE_COLUMNS]
        self._row(header, bold=True, fill=True)
        for line in lines:
            if self.will_page_break(6):  # a long invoice: the next page starts with the header again
                self.add_page()
                self._row(header, bold=True, fill=True)
            self._row([line["name"], line.get("size") or "", str(line["quantity"]), money(line["unit_price"]),
                       percent(line["tax_rate"]), money(line["net"]), money(line["total"])])
        self.ln(4)

    def _row(self, values: list[str], *, bold=False, fill=False) -> None:
        self.set_font(self.family, "B" if bold else "", 9)
        self.set_fill_color(230, 230, 230)
        for (_, width, align), value in zip(LINE_COLUMNS, values):
            text = self.text_of(value)
            while len(text) > 1 and self.get_string_width(text) > width - 2:  # one line a row: trim long names
                text = text[:-2] + "…" if self.unicode else text[:-4] + "..."
            self.cell(width, 6, text, border=1, align=align, fill=fill)
        self.ln(6)

    def tax_summary(self, rows: list[dict]) -> None:
        self.write_line("Tax summary", size=11, bold=True, height=6)
        self.set_font(self.family, "", 9)
        for rate, net, tax in [("Rate", "Net", "Tax")] + [(percent(r["rate"]), money(r["net"]), money(r["tax"]))
                                                        for r in rows]:
            self.cell(30, 5, rate, border=1, align="R")
            self.cell(35, 5, net, border=1, align="R")
            self.cell(35, 5, tax, border=1, align="R", new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def totals(self, totals: dict) -> None:
        for label, name, bold in (("Subtotal", "subtotal", False), ("Tax", "tax", False),
                                  ("Discount", "discount", False), ("Total", "total", True)):
            self.set_font(self.family, "B" if bold else "", 12 if bold else 10)
            self.cell(150, 6, label, align="R")
            self.cell(40, 6, money(totals[name]), align="R", new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def payments(self, payments: list[dict], totals: dict) -> None:
        self.write_line("Payments", size=11, bold=True, height=6)
        self.set_font(self.family, "", 10)
        for payment in payments:
            credits = f" ({payment['credits']} credits)" if payment.get("credits") else ""
            self.cell(150, 5, f"{payment['method'].capitalize()}{credits}", align="R")
            self.cell(40, 5, money(payment["amount"]), align="R", new_x="LMARGIN", new_y="NEXT")
        for label, name in (("Paid", "paid"), ("Change", "change")):
            self.cell(150, 5, label, align="R")
            self.cell(40, 5, money(totals[name]), align="R", new_x="LMARGIN", new_y="NEXT")
