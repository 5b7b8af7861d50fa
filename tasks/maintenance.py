"""Maintenance jobs (queue `maintenance`, beat's line): stored files' expiry."""

from __future__ import annotations

from datetime import timedelta

from models.base import utcnow
from services import exports
from services.storage import open_storage
from tasks.base import job_task
from tasks.context import JobContext

PROGRESS_EVERY = 100


@job_task("maintenance.expire_files")
def expire_files(job: JobContext, payload: dict) -> dict:
    """Delete stored files (exports, uploads) older than STORAGE_EXPIRE_HOURS, and mark the exports
    past their expiry as expired (beat, hourly). Run twice, it finds nothing more to do."""
    settings, now = job.runtime.settings, utcnow()
    storage = open_storage(settings)
    deleted = 0
    for key in storage.stored_before(now - timedelta(hours=settings.storage_expire_hours)):
        storage.delete(key)
        deleted += 1
        if deleted % PROGRESS_EVERY == 0:
            job.progress(deleted, message="files deleted")
    return {"files_deleted": deleted, "exports_expired": exports.expire_due(job.session, now)}
