"""/metrics: Prometheus text, summed over every process, plus live queue depths and job counts."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from models import Job
from worker.runtime import get_db
from worker.queues import queue_depths
from worker.routes import QUEUES

blp = Blueprint("metrics", __name__)


class LiveCollector:
    """Read at scrape time: what the broker holds per queue, and jobs per kind and status."""

    def collect(self):
        depth = GaugeMetricFamily("conveyor_queue_depth", "Messages waiting in the broker queue", labels=["queue"])
        for queue, n in queue_depths(list(QUEUES)).items():
            if n is not None:
                depth.add_metric([queue], n)
        yield depth
        jobs = GaugeMetricFamily("conveyor_jobs", "Jobs in the jobs table", labels=["kind", "status"])
        with get_db().read() as session:
            for kind, status, n in session.execute(
                    select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)):
                jobs.add_metric([kind, status.value], n)
        yield jobs


@blp.get("/metrics")
def metrics():
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(LiveCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
