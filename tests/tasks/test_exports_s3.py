"""An export end to end on the S3 backend: a real worker process writes the file to a real S3 protocol
server (moto), and the web streams it back from there."""

from __future__ import annotations

import csv
import io

from models import Role
from tests.sales_support import product
from tests.support import make_user


def test_an_export_goes_to_s3_and_downloads_from_it(s3_server, make_app, worker_processes):
    worker_processes(env=s3_server, queues="imports")
    web = make_app(**s3_server)
    client, admin = web.test_client(), make_user(web, Role.admin)[1]
    product(client, admin, "MUG", price="10.50")
    view = client.post("/api/v1/exports", json={"kind": "products"}, headers={**admin, "Prefer": "wait=30"}).json
    assert view["status"] == "ready", view
    answer = client.get(f"/api/v1/exports/{view['id']}/file", headers=admin)
    assert answer.status_code == 200 and int(answer.headers["Content-Length"]) == len(answer.data) == view["size"]
    assert list(csv.reader(io.StringIO(answer.data.decode(), newline="")))[1][:4] == ["MUG", "Product MUG", "",
                                                                                       "10.50"]
