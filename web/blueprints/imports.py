"""/api/v1/imports: upload a catalogue or stock file (CSV, TSV, XLSX), preview it, apply it, read the import
log and download the rows in error (admins and managers; a manager's stock only in their own branch)."""

from __future__ import annotations

import re
import uuid

from flask import Response, request, stream_with_context, url_for
from flask.views import MethodView
from sqlalchemy import select

from models import Branch, Import, Role
from schemas.imports import ImportListArgsSchema, ImportPageSchema, ImportSchema, ImportUploadSchema
from services.errors import DomainError
from services.imports import log
from services.sales import get
from services.storage import open_storage
from web.auth import current_principal, require_auth
from web.branch_scope import require_branch
from web.limits import submit_limit
from web.parsing import Blueprint
from web.submit import idempotency_key_of_request, submit_job
from worker.runtime import get_db, get_settings

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports", description="Catalogue and stock imports")
WRITERS = (Role.admin, Role.manager)
UNSAFE_IN_NAMES = re.compile(r"[\x00-\x1f\x7f/\\]")
IMPORT_IDS = uuid.UUID("6d1f3c1e-5b0a-4f57-9a7e-3c2b8f0d9e41")  # the namespace of imports named by a request's key


@blp.route("")
class Imports(MethodView):
    @require_auth(*WRITERS)
    @blp.arguments(ImportListArgsSchema, location="query")
    @blp.response(200, ImportPageSchema)
    def get(self, args):
        """The import log, newest first: yours (admins: everyone's)."""
        with get_db().read() as session:
            return log.page_of(session, current_principal(), kind=args["kind"], limit=args["limit"],
                               cursor=args["cursor"])

    @require_auth(*WRITERS)
    @submit_limit
    @blp.arguments(ImportUploadSchema, location="form")
    @blp.response(202, ImportSchema, description="Accepted: an `imports.run` job previews or applies the file")
    @blp.alt_response(413, description="payload_too_large: above IMPORT_MAX_BYTES")
    def post(self, form):
        """Upload a file (multipart field `file`) to preview or apply: `kind` products or stock
        (`branch_id`), `mode` preview or apply, `on_existing` update or skip, `atomic`; optionally
        `encoding`, `delimiter`, `decimal_separator`, `sheet` (detected otherwise)."""
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise DomainError("send the file as the multipart field `file`", code="file_required")
        if form["branch_id"] is not None:
            require_branch(form["branch_id"])
            with get_db().read() as session:
                get(session, Branch, form["branch_id"])
        owner_id = current_principal().user_id
        request_key = idempotency_key_of_request()
        # A repeated Idempotency-Key names the same import (so its job's payload is the same too): the
        # first request's import answers, and the repeated file is not stored again.
        import_id = uuid.uuid5(IMPORT_IDS, f"{owner_id}:{request_key}") if request_key else uuid.uuid4()
        if request_key:
            with get_db().read() as session:
                if session.get(Import, import_id) is not None:
                    return _answer(import_id, 200)
        name = UNSAFE_IN_NAMES.sub("_", upload.filename)[-255:]
        # Its own place per request: two requests racing with one key never write over each other's file.
        key = f"imports/{uuid.uuid4()}/upload"
        size = open_storage(get_settings()).save(key, upload.stream)
        if size == 0:
            raise DomainError("the file is empty", code="empty_file")
        options = {k: form[k] for k in ("on_existing", "atomic", "create_categories", "encoding", "delimiter",
                                        "decimal_separator", "sheet")}

        def record(session, job):
            log.create(session, id=import_id, owner_id=owner_id, kind=form["kind"],
                       branch_id=form["branch_id"], file_name=name, storage_key=key, size_bytes=size,
                       options=options, mode=form["mode"], job_id=job.id)

        _, status, _ = submit_job("imports.run", {"import_id": str(import_id)}, record)
        return _answer(import_id, status)


@blp.route("/<uuid:import_id>")
class ImportById(MethodView):
    @require_auth(*WRITERS)
    @blp.response(200, ImportSchema)
    def get(self, import_id):
        """An import: its latest run's status and progress, counts by outcome, the first outcomes of each kind."""
        with get_db().read() as session:
            return log.view(session, log.get(session, import_id, current_principal()))


@blp.route("/<uuid:import_id>/apply")
class ApplyImport(MethodView):
    @require_auth(*WRITERS)
    @submit_limit
    @blp.response(202, ImportSchema)
    @blp.alt_response(409, description="import_not_previewed")
    def post(self, import_id):
        """Apply a previewed upload: every row validated again against the catalogue as it is now;
        `differs_from_preview` says where the counts differ from the preview's."""
        with get_db().read() as session:
            log.get(session, import_id, current_principal())

        def point_at_job(session, job):
            log.prepare_apply(session, log.get(session, import_id), job.id)

        _, status, _ = submit_job("imports.run", {"import_id": str(import_id)}, point_at_job)
        return _answer(import_id, status)


@blp.route("/<uuid:import_id>/errors.csv")
class ImportErrors(MethodView):
    @require_auth(*WRITERS)
    @blp.response(200, description="text/csv: the file's columns, then `_row`, `_column`, `_error`")
    def get(self, import_id):
        """The rows in error, as a CSV to fix and upload again: each row's values, its number in the
        file, the column at fault and why."""
        db = get_db()
        with db.read() as session:
            record = log.get(session, import_id, current_principal())
            session.expunge(record)
        return Response(stream_with_context(log.error_report(db.read, record)), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'})


def _answer(import_id, status: int):
    with get_db().read() as session:
        record = session.get(Import, import_id)
        return log.view(session, record), status, {"Location": url_for("imports.ImportById", import_id=record.id)}
