"""Which Celery task and queue run each job kind: the web layer submits by kind, beat re-publishes by kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobKind:
    kind: str
    task_name: str
    queue: str


JOB_KINDS: dict[str, JobKind] = {}


def register(kind: str, queue: str) -> JobKind:
    if kind in JOB_KINDS:
        raise ValueError(f"job kind {kind!r} is registered twice")
    JOB_KINDS[kind] = JobKind(kind=kind, task_name=f"conveyor.jobs.{kind}", queue=queue)
    return JOB_KINDS[kind]
