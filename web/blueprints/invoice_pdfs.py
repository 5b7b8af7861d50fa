"""/api/v1/invoices/<id>.pdf: an invoice or credit note as a printable PDF, rendered once and kept."""

from __future__ import annotations

import re

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from models import Role
from services.sales import invoice_pdf, invoices
from web.auth import require_auth
from web.branch_scope import require_branch
from worker.runtime import get_db, get_settings

blp = Blueprint("invoice_pdfs", __name__, url_prefix="/api/v1", description="Invoices as PDF")


@blp.route("/invoices/<int:invoice_id>.pdf")
class InvoicePdf(MethodView):
    @require_auth(Role.admin, Role.manager, Role.seller)
    @blp.response(200, content_type="application/pdf", description="the invoice as a PDF")
    def get(self, invoice_id):
        """The invoice (or credit note) as a PDF; the same access as its JSON. Rendered at the first
        request, outside any transaction, then served from the `invoice_pdfs` table: an invoice never
        changes, so neither does its PDF."""
        db = get_db()
        with db.read() as session:
            invoice = invoices.invoice_of(session, invoice_id)
            pdf = invoice_pdf.cached(session, invoice_id)
        require_branch(invoice.branch_id)  # before anything is rendered or sent
        if pdf is None:
            pdf = invoice_pdf.render(invoice, font_path=get_settings().invoice_font_path)
            with db.Session.begin() as session:
                invoice_pdf.store(session, invoice_id, pdf)
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{_filename(invoice.number)}.pdf"',
                                 "Cache-Control": "private, max-age=86400"})


def _filename(number: str) -> str:
    """The number as a file name safe in a header (a branch code may hold quotes: visible ASCII)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", number)
