"""/metrics: Prometheus text, summed over every process, plus live queue depths and job counts.

Protected by a bearer token from settings (METRICS_TOKEN): the counts describe the business."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from models import Job
from services.usage import queries as usage_queries
from web.errors import error_response
from worker.runtime import get_db, get_settings
from worker.queues import queue_depths
from worker.routes import QUEUES

blp = Blueprint("metrics", __name__)


class LiveCollector:
    """Read at scrape time: what the broker holds per queue, jobs per kind and status, credits spent by tier."""

    def collect(self):
        depth = GaugeMetricFamily("conveyor_queue_depth", "Messages waiting in the broker queue", labels=["queue"])
        for queue, n in queue_depths(list(QUEUES)).items():
            if n is not None:
                depth.add_metric([queue], n)
        yield depth
        jobs = GaugeMetricFamily("conveyor_jobs", "Jobs in the jobs table", labels=["kind", "status"])
        # From the rollup, not counted at charge time: the database is the one truth every process shares.
        spent = GaugeMetricFamily("conveyor_credits_spent_by_tier", "Credits spent (charges and captured holds, "
                                  "less refunds) by tier, as of the last usage rollup", labels=["tier"])
        with get_db().read() as session:
            for kind, status, n in session.execute(
                    select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)):
                jobs.add_metric([kind, status.value], n)
            for tier, total in usage_queries.spent_by_tier(session).items():
                spent.add_metric([tier], total)
        yield jobs
        yield spent


@blp.before_request
def _require_metrics_token():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = get_settings().metrics_token.encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        return error_response(401, "unauthorized", "/metrics needs the metrics bearer token (METRICS_TOKEN)")
    return None


@blp.get("/metrics")
def metrics():
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(LiveCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
