"""Beat's schedule, on its own queue so that no backlog of jobs delays it.

Each entry expires before the next is due, so a stalled worker is not buried under repeats.
"""

from __future__ import annotations

from celery.schedules import crontab

OUTBOX_EVERY = 15.0
REAPER_EVERY = 10.0


def beat_schedule() -> dict:
    return {
        "dispatch-outbox": {"task": "conveyor.maintenance.dispatch_outbox", "schedule": OUTBOX_EVERY,
                            "options": {"queue": "maintenance", "expires": OUTBOX_EVERY}},
        "reap-leases": {"task": "conveyor.maintenance.reap_leases", "schedule": REAPER_EVERY,
                        "options": {"queue": "maintenance", "expires": REAPER_EVERY}},
        "expire-holds": {"task": "conveyor.billing.expire_holds", "schedule": 60.0,
                         "options": {"queue": "maintenance", "expires": 60.0}},
        "reconcile-ledger": {"task": "conveyor.billing.reconcile", "schedule": crontab(minute=30, hour=2),
                             "options": {"queue": "maintenance", "expires": 3600}},
        "cleanup-jobs": {"task": "conveyor.maintenance.cleanup_jobs", "schedule": crontab(minute=17, hour=3),
                         "options": {"queue": "maintenance", "expires": 3600}},
    }
