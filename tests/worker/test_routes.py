"""Routing lives in one table: Celery, the jobs table, the worker lines, the Procfile and compose agree."""

from __future__ import annotations

import re

from config import ROOT
from worker.__main__ import command
from worker.routes import QUEUES, WORKER_LINES, queue_of


def test_celery_routes_every_task_where_the_jobs_table_says(celery_app):
    router = celery_app.amqp.router
    names = [name for name in celery_app.tasks if name.startswith("conveyor.")]
    assert "conveyor.jobs.billing.charge" in names and "conveyor.beat.reap_leases" in names
    for name in names:
        assert router.route({}, name)["queue"].name == queue_of(name), name


def test_beat_tasks_go_to_maintenance_and_jobs_to_their_familys_queue():
    assert queue_of("conveyor.beat.dispatch_outbox") == "maintenance"
    assert [queue_of(kind) for kind in ("ping", "billing.charge", "sales.sale", "imports.run", "llm.chat")] == [
        "default", "billing", "sales", "imports", "llm"]


def test_every_queue_has_exactly_one_worker_line():
    consumed = [queue for line in WORKER_LINES.values() for queue in line.queues]
    assert sorted(consumed) == sorted(QUEUES)


def test_the_procfile_and_compose_start_every_worker_line():
    procfile = (ROOT / "Procfile").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    for line in WORKER_LINES:
        assert re.search(rf"^\w+: python -m worker {line}$", procfile, re.M), line
        assert f'["python", "-m", "worker", "{line}"]' in compose, line


def test_a_worker_line_is_one_celery_worker_command():
    argv = command("io", ["--loglevel", "INFO"])
    assert argv[1:5] == ["-m", "celery", "-A", "worker.app"]
    assert argv[argv.index("-Q") + 1] == "llm" and argv[argv.index("-P") + 1] == "gevent"
    assert argv[-2:] == ["--loglevel", "INFO"]
