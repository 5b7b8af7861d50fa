"""Prometheus instruments shared by the web and worker processes (multiprocess mode).

Each process writes its samples under PROMETHEUS_MULTIPROC_DIR; `/metrics` adds them up.
The variable must be set before prometheus_client is imported, hence the set-up below.
"""

from __future__ import annotations

import os
from pathlib import Path

from config import ROOT

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(ROOT / "var" / "metrics"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from prometheus_client import Counter, Gauge, Histogram, multiprocess  # noqa: E402

JOBS_SUBMITTED = Counter("conveyor_jobs_submitted_total", "Jobs accepted by the API", ["kind"])
JOBS_FINISHED = Counter("conveyor_jobs_finished_total", "Jobs that reached a final status", ["kind", "status"])
JOB_DURATION = Histogram("conveyor_job_duration_seconds", "Time a job's attempt ran until it finished",
                         ["kind"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))

LEDGER_MISMATCHES = Gauge("conveyor_ledger_mismatches", "Broken ledger invariants at the last reconciliation",
                          multiprocess_mode="mostrecent")


def record_reconciliation(mismatches: int) -> None:
    LEDGER_MISMATCHES.set(mismatches)


def record_submitted(kind: str) -> None:
    JOBS_SUBMITTED.labels(kind).inc()


def record_finished(kind: str, status: str, seconds: float | None = None) -> None:
    """A job reached a final status; `seconds` is its last attempt's run time, if it ran."""
    JOBS_FINISHED.labels(kind, status).inc()
    if seconds is not None:
        JOB_DURATION.labels(kind).observe(seconds)


def mark_process_dead(pid: int | None) -> None:
    if pid is not None:
        multiprocess.mark_process_dead(pid)


CREDITS_GRANTED = Counter("conveyor_credits_granted_total", "Credits granted by subscriptions' periods", ["tier"])
CREDITS_EXPIRED = Counter("conveyor_credits_expired_total", "Unused granted credits expired at periods' ends",
                          ["tier"])
REFRESH_DURATION = Gauge("conveyor_refresh_duration_seconds", "How long the last subscription refresh ran",
                         multiprocess_mode="mostrecent")
REFRESH_LAG = Gauge("conveyor_refresh_lag_seconds",
                    "How late the oldest due subscription was when the last refresh started",
                    multiprocess_mode="mostrecent")


def record_credits(granted: dict[str, int], expired: dict[str, int]) -> None:
    """Credits a committed transaction granted and expired, per tier name."""
    for tier, amount in granted.items():
        if amount:
            CREDITS_GRANTED.labels(tier).inc(amount)
    for tier, amount in expired.items():
        if amount:
            CREDITS_EXPIRED.labels(tier).inc(amount)


def record_refresh(seconds: float, lag_seconds: float | None) -> None:
    """A refresh's duration, and its lag when it found a subscription due (a run that found none, such as
    a second one at the same moment, leaves the last lag as it was)."""
    REFRESH_DURATION.set(seconds)
    if lag_seconds is not None:
        REFRESH_LAG.set(lag_seconds)
