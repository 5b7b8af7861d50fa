"""Export jobs (queue `imports`): a file of the catalogue, the stock or the sales, written as its rows
stream from the database to a temporary file, then streamed to storage.

All or nothing: the export is marked ready with the job's success, in one transaction. A retried
attempt writes the file again under the same key (replacing a half-done one).
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from models import ExportFormat, ExportKind
from models.base import utcnow
from services import exports
from services.storage import open_storage
from tasks.base import job_task
from tasks.context import JobContext


@job_task("imports.export", soft_time_limit=1800, time_limit=1900)
def export(job: JobContext, payload: dict) -> dict:
    kind, fmt = ExportKind(payload["kind"]), ExportFormat(payload["format"])
    settings = job.runtime.settings
    key = exports.storage_key(job.job_id, fmt)
    with tempfile.TemporaryDirectory(prefix="conveyor-export-") as directory:
        path = Path(directory) / f"export.{fmt.value}"
        # One snapshot: the count (the progress' total) and the rows agree.
        with job.db.read(snapshot=True) as session:
            rows = exports.write_export(session, kind, fmt, payload["filters"], path,
                                        lambda done, total: job.progress(done, total, "rows written"))
        with open(path, "rb") as file:
            size = open_storage(settings).save(key, file)
    now = utcnow()
    exports.mark_ready(job.session, job.job_id, key, rows, size, now,
                       expires_at=now + timedelta(hours=settings.storage_expire_hours))
    return {"export_id": str(job.job_id), "rows": rows, "size": size}
