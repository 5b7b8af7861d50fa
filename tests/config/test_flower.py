"""Flower as the Procfile starts it: every page behind its password, its metrics kept out of ours."""

from __future__ import annotations

import time

import requests

from config import ROOT
from tests.conftest import TEST_ENV
from tests.support import first_pass_only, free_port, wait_for_status

FLOWER_AUTH = tuple(TEST_ENV["FLOWER_BASIC_AUTH"].split(":", 1))


def _procfile_line(name: str) -> str:
    return next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{name}:"))


def _wait_until_up(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError("Flower did not start")


@first_pass_only
def test_flower_needs_its_password_and_keeps_its_metrics_to_itself(processes, client, auth, worker, app,
                                                                   metrics_auth, tmp_path):
    port = free_port()
    command = _procfile_line("flower").split(":", 1)[1]
    processes(["sh", "-c", f"exec {command}"], {"FLOWER_PORT": str(port), "FLOWER_DB": str(tmp_path / "flower.db"),
                                               "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"})
    url = f"http://127.0.0.1:{port}"
    _wait_until_up(url + "/healthcheck", time.monotonic() + 30)

    for path in ("/healthcheck", "/metrics", "/", "/api/workers"):
        assert requests.get(url + path, timeout=5).status_code == 401, path
        assert requests.get(url + path, auth=("flower", "wrong"), timeout=5).status_code == 401, path
    assert requests.get(url + "/healthcheck", auth=FLOWER_AUTH, timeout=5).text == "OK"

    # A job's events reach Flower, which counts them in its own metrics ...
    job_id = client.post("/api/v1/jobs/ping", json={}, headers=auth).json["id"]
    wait_for_status(app, job_id)
    deadline = time.monotonic() + 20
    while "flower_events_total{" not in (flower := requests.get(url + "/metrics", auth=FLOWER_AUTH, timeout=5).text):
        assert time.monotonic() < deadline, "Flower saw no event"
        time.sleep(0.3)
    # ... and none of them (host names, process ids) shows in the API's /metrics.
    ours = client.get("/metrics", headers=metrics_auth).get_data(as_text=True)
    assert "conveyor_jobs_submitted_total" in ours and "flower_" not in ours
