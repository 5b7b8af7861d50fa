"""Stored files' expiry with a real worker: beat starts `maintenance.expire_files` as a system job on the
maintenance line; it deletes the files older than STORAGE_EXPIRE_HOURS and expires the exports past
their time, whose download then answers 410."""

from __future__ import annotations

import io
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from config import load_settings
from models import Export, Role
from models.base import utcnow
from services.storage import open_storage
from tasks.beat import start_job
from tests.support import make_user, wait_for_status
from worker.routes import queue_of
from worker.schedule import beat_schedule

pytestmark = pytest.mark.usefixtures("worker")


def age(settings, key: str, hours: float) -> None:
    """Make a stored file `hours` old (the local backend dates a file by its modification time)."""
    moment = time.time() - hours * 3600
    os.utime(Path(settings.upload_dir) / key, (moment, moment))


def test_beat_deletes_old_files_and_expires_their_exports(app, client):
    settings = app.extensions["conveyor"].settings
    storage = open_storage(settings)
    admin = make_user(app, Role.admin)[1]
    view = client.post("/api/v1/exports", json={"kind": "products"}, headers={**admin, "Prefer": "wait=20"}).json
    assert view["status"] == "ready", view
    old_upload, new_upload = f"imports/{uuid.uuid4()}/old.csv", f"imports/{uuid.uuid4()}/new.csv"
    for key in (old_upload, new_upload):
        storage.save(key, io.BytesIO(b"sku\n"))
    hours = settings.storage_expire_hours
    age(settings, old_upload, hours + 1)
    age(settings, f"exports/{view['id']}.csv", hours + 1)
    age(settings, new_upload, hours - 1)
    with app.extensions["conveyor"].db.Session.begin() as session:  # as it will be once its time has come
        session.execute(update(Export).where(Export.id == uuid.UUID(view["id"]))
                        .values(expires_at=utcnow() - timedelta(minutes=1)))

    entry = beat_schedule(load_settings())["expire-files"]
    assert entry["args"] == ("maintenance.expire_files", {}) and queue_of(entry["args"][0]) == "maintenance"
    job = wait_for_status(app, start_job.apply(args=entry["args"]).get())
    assert job.status.value == "succeeded" and job.owner_id is None and job.queue == "maintenance"
    assert job.result["exports_expired"] == 1 and job.result["files_deleted"] >= 2

    for key in (old_upload, f"exports/{view['id']}.csv"):
        with pytest.raises(FileNotFoundError):
            storage.open(key)
    storage.open(new_upload).close()
    assert client.get(f"/api/v1/exports/{view['id']}", headers=admin).json["status"] == "expired"
    answer = client.get(f"/api/v1/exports/{view['id']}/file", headers=admin)
    assert answer.status_code == 410 and answer.json["error"]["code"] == "export_expired"
