"""Exports end to end through the real processes: a worker process writes the file, the real web server
(gunicorn, gevent) streams it back; on the local backend and on S3 (a real S3 protocol server, moto).
The file, uploaded again as an import (kept in the same storage), previews as every row unchanged."""

from __future__ import annotations

import csv
import io

import pytest
import requests
from sqlalchemy import insert

from models import Product, Role
from models.base import utcnow
from tests.conftest import TEST_ENV
from tests.support import WebServer, first_pass_only, make_user

ROWS = 3000  # a file of some 100 KB: streamed in several pieces


@first_pass_only
@pytest.mark.parametrize("backend", ["local", "s3"])
def test_an_export_is_written_by_a_worker_and_streamed_by_the_web(app, worker_processes, backend, request):
    env = request.getfixturevalue("s3_server") if backend == "s3" else {}
    worker_processes(env=env, queues="imports")
    web = WebServer({**TEST_ENV, **env})
    try:
        admin = make_user(app, Role.admin)[1]
        with app.extensions["conveyor"].db.Session.begin() as session:
            session.execute(insert(Product), [{"sku": f"SKU-{n:05}", "name": f"Product {n}", "price": "10.50",
                                               "created_at": utcnow()} for n in range(ROWS)])
        view = requests.post(f"{web.url}/api/v1/exports", json={"kind": "products"},
                             headers={**admin, "Prefer": "wait=30"}).json()
        assert view["status"] == "ready", view
        with requests.get(f"{web.url}/api/v1/exports/{view['id']}/file", headers=admin, stream=True) as answer:
            assert answer.status_code == 200 and int(answer.headers["Content-Length"]) == view["size"]
            body = b"".join(answer.iter_content(64 * 1024))
        again = requests.post(f"{web.url}/api/v1/imports", files={"file": ("products.csv", body)},
                              data={"kind": "products", "mode": "preview", "on_existing": "update"},
                              headers={**admin, "Prefer": "wait=30"}).json()
    finally:
        web.stop()
    rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
    assert len(body) == view["size"] and len(rows) == ROWS + 1
    assert rows[1][:4] == ["SKU-00000", "Product 0", "10.50", "0.00"]
    assert again["status"] == "succeeded" and again["counts"] == {"new": 0, "update": 0, "skip": ROWS, "error": 0}
