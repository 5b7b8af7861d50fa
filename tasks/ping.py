"""`ping`: the diagnostic job. It sleeps, reports progress, and can fail transiently on purpose."""

from __future__ import annotations

from services.errors import TransientError
from tasks.base import job_task
from tasks.context import JobContext


@job_task("ping")
def ping(job: JobContext, payload: dict) -> dict:
    steps, sleep_ms = payload.get("steps", 0), payload.get("sleep_ms", 0)
    if steps:
        for step in range(1, steps + 1):
            job.sleep(sleep_ms / steps / 1000)
            job.progress(step, steps, f"step {step} of {steps}")
    elif sleep_ms:
        job.sleep(sleep_ms / 1000)
    if job.attempt <= payload.get("fail_times", 0):
        raise TransientError(f"ping failed on purpose (attempt {job.attempt})", code="ping_transient")
    return {"pong": True, "attempt": job.attempt}
