"""Where work runs, in one place: the queues, the queue of each task, and the worker lines that consume them.

Celery's `task_routes`, the jobs table's `queue` column, the Procfile's and compose's worker lines
(through `python -m worker <line>`) and the metrics all read these tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Callable

from config import Settings

QUEUES = ("default", "billing", "sales", "imports", "llm", "maintenance")

# Task name (a glob, as Celery's task_routes takes it) -> queue. The first match wins; jobs are
# the tasks `conveyor.jobs.<kind>`, beat's timed tasks `conveyor.beat.<name>`.
ROUTES: dict[str, str] = {
    "conveyor.jobs.billing.*": "billing",
    "conveyor.jobs.market.*": "billing",  # purchases move credits
    "conveyor.jobs.sales.*": "sales",
    "conveyor.jobs.imports.*": "imports",
    "conveyor.jobs.llm.*": "llm",
    "conveyor.beat.*": "maintenance",
    "conveyor.jobs.maintenance.*": "maintenance",  # beat's system jobs of upkeep (stored files' expiry)
    "conveyor.jobs.*": "default",
}


def task_name(kind: str) -> str:
    return f"conveyor.jobs.{kind}"


def queue_of(name: str) -> str:
    """The queue of a task name (or of a job kind)."""
    name = name if name.startswith("conveyor.") else task_name(name)
    return next((queue for pattern, queue in ROUTES.items() if fnmatchcase(name, pattern)), "default")


def task_routes() -> dict:
    return {pattern: {"queue": queue} for pattern, queue in ROUTES.items()}


@dataclass(frozen=True)
class WorkerLine:
    """One `celery worker` command: the queues it consumes, its pool and its concurrency."""

    queues: tuple[str, ...]
    pool: str
    concurrency: Callable[[Settings], int]
    doc: str


WORKER_LINES: dict[str, WorkerLine] = {
    # Jobs that use the CPU or hold the database: one process per core.
    "jobs": WorkerLine(("default", "billing", "sales", "imports"), "prefork", lambda s: s.worker_concurrency,
                       "CPU- and database-bound jobs, one process per core"),
    # Jobs that mostly wait on the network: hundreds at once in one process.
    "io": WorkerLine(("llm",), "gevent", lambda s: s.io_worker_concurrency, "I/O-bound jobs (LLM calls) on a gevent pool"),
    # Beat's timed tasks get their own consumer, so that a pool busy with long jobs never delays them.
    "maintenance": WorkerLine(("maintenance",), "threads", lambda s: 2,
                              "beat's repairs (outbox, lease reaper, hold expiry, ...)"),
}

