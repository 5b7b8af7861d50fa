"""/api/v1/exports: the catalogue, the stock or the sales as a CSV or XLSX file, made by an `imports.export`
job and downloaded from storage until it expires (STORAGE_EXPIRE_HOURS).

Who may export what: the catalogue, anyone signed in (as its list); sales, staff, admins any branch's (all
when none is named), managers and sellers their own branch's (as its list). Stock, staff in the same way:
any token reads one branch's stock list, but a whole branch's stock (or every branch's) is staff work.
"""

from __future__ import annotations

import re

from flask import Response, request, url_for
from flask.views import MethodView
from werkzeug.wsgi import wrap_file

from models import ExportKind, Role
from models.base import utcnow
from schemas.common import ErrorEnvelopeSchema
from schemas.exports import ExportListArgsSchema, ExportPageSchema, ExportRequestSchema, ExportSchema
from services import exports
from services.storage import open_storage
from web.auth import Forbidden, current_principal, require_auth
from web.blueprints.jobs import submission
from web.branch_scope import branches_in_view
from web.parsing import Blueprint
from web.submit import submit_job
from worker.runtime import get_db, get_settings

blp = Blueprint("exports", __name__, url_prefix="/api/v1/exports", description="Exports as CSV or XLSX files")
STAFF = (Role.admin, Role.manager, Role.seller)
BRANCH_SCOPED = (ExportKind.stock, ExportKind.sales)
DOWNLOAD_CHUNK = 256 * 1024


def _in_scope(kind: ExportKind, filters: dict) -> dict:
    """The filters as applied: stock and sales are for staff, each in the branches they may see."""
    if kind not in BRANCH_SCOPED:
        return filters
    if current_principal().role not in STAFF:
        raise Forbidden("your role may not export this", details={"allowed": [r.value for r in STAFF]})
    branches = branches_in_view(filters["branch_id"])
    if branches == []:
        raise Forbidden("you belong to no branch", code="no_branch")
    return {**filters, "branch_id": branches[0] if branches else None}


@blp.route("")
class Exports(MethodView):
    @require_auth()
    @blp.arguments(ExportListArgsSchema, location="query")
    @blp.response(200, ExportPageSchema)
    def get(self, args):
        """Your exports (admins: everyone's), newest first; `kind` filters."""
        with get_db().read() as session:
            return exports.page_for(session, current_principal(), kind=args["kind"], limit=args["limit"],
                                    cursor=args["cursor"], now=utcnow())

    @require_auth()
    @blp.arguments(ExportRequestSchema)
    @submission(blp, ExportSchema)
    def post(self, data):
        """Export `products`, `stock` or `sales` as `csv` or `xlsx`: an `imports.export` job streams the rows
        to a file in storage; its progress counts rows. The file is downloadable at `/exports/<id>/file`
        once ready, until it expires."""
        kind, fmt = data["kind"], data["format"]
        filters = _in_scope(kind, data["filters"])
        job, status, headers = submit_job(
            "imports.export", {"kind": kind.value, "format": fmt.value, "filters": filters},
            lambda session, job: exports.record(session, job, kind, fmt, filters, job.created_at))
        with get_db().read() as session:
            export = exports.get(session, job.id, current_principal())
            view = exports.view(session, export, utcnow())
        return view, status, {**headers, "Location": url_for("exports.ExportById", export_id=job.id)}


@blp.route("/<uuid:export_id>")
class ExportById(MethodView):
    @require_auth()
    @blp.response(200, ExportSchema)
    def get(self, export_id):
        """One export: its state (`queued`, `running`, `ready`, `failed`, `cancelled`, `expired`), progress, file."""
        with get_db().read() as session:
            return exports.view(session, exports.get(session, export_id, current_principal()), utcnow())


@blp.route("/<uuid:export_id>/file")
class ExportFile(MethodView):
    @require_auth()
    @blp.doc(responses={"200": {"description": "the file, streamed from storage", "content": {
        media_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
        for media_type in exports.MEDIA_TYPES.values()}}})
    @blp.alt_response(404, schema=ErrorEnvelopeSchema, description="No such export, or not ready yet")
    @blp.alt_response(410, schema=ErrorEnvelopeSchema, description="The file has expired")
    def get(self, export_id):
        """Download the export's file (CSV: text/csv; XLSX: its spreadsheet type): 404 `export_not_ready`
        until its job has written it, 410 `export_expired` after STORAGE_EXPIRE_HOURS."""
        with get_db().read() as session:
            export = exports.get(session, export_id, current_principal())
        key = exports.downloadable(export, utcnow())
        try:
            file = open_storage(get_settings()).open(key)
        except FileNotFoundError:  # deleted by the expiry job since
            raise exports.Expired("the export's file has expired; export again") from None
        return Response(wrap_file(request.environ, file, DOWNLOAD_CHUNK), direct_passthrough=True,
                        content_type=exports.MEDIA_TYPES[export.format],
                        headers={"Content-Length": str(export.size),
                                 "Content-Disposition": f'attachment; filename="{_safe(export.filename)}"'})


def _safe(filename: str) -> str:
    """A file name safe in a header (ours always is; this keeps it so)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", filename)
