"""Beat's schedule. Its tasks run on the `maintenance` queue, which has its own worker line, so
that no backlog of jobs delays them; each expires before the next is due, so a stalled
maintenance worker is not buried under repeats."""

from __future__ import annotations

from celery.schedules import crontab

from config import Settings


def beat_schedule(settings: Settings) -> dict:
    outbox, reaper = settings.outbox_interval_seconds, settings.reaper_interval_seconds
    return {
        "dispatch-outbox": {"task": "conveyor.beat.dispatch_outbox", "schedule": outbox,
                            "options": {"expires": outbox}},
        "reap-leases": {"task": "conveyor.beat.reap_leases", "schedule": reaper, "options": {"expires": reaper}},
        "expire-holds": {"task": "conveyor.beat.expire_holds", "schedule": 60.0, "options": {"expires": 60.0}},
        "void-llm-holds": {"task": "conveyor.beat.void_llm_holds", "schedule": 60.0, "options": {"expires": 60.0}},
        # Work that is a job of its own, owned by the system, made once per scheduled moment.
        "reconcile-ledger": {"task": "conveyor.beat.start_job", "schedule": crontab(minute=30, hour=2),
                             "args": ("billing.reconcile", {}), "options": {"expires": 3600}},
        "reconcile-stock": {"task": "conveyor.beat.start_job", "schedule": crontab(minute=45, hour=2),
                            "args": ("sales.reconcile_stock", {}), "options": {"expires": 3600}},
        "refresh-subscriptions": {"task": "conveyor.beat.start_job", "schedule": 60.0,
                                  "args": ("billing.refresh_subscriptions", {}), "options": {"expires": 60.0}},
        "expire-orders": {"task": "conveyor.beat.start_job", "schedule": 60.0,
                          "args": ("sales.expire_orders", {}), "options": {"expires": 60.0}},
        # Hourly: each branch's day closes at its own midnight.
        "close-days": {"task": "conveyor.beat.close_days", "schedule": crontab(minute=5),
                       "options": {"expires": 3000}},
        "low-stock-events": {"task": "conveyor.beat.start_job", "schedule": crontab(minute="*/15"),
                             "args": ("reports.low_stock_events", {}), "options": {"expires": 600}},
        "usage-rollup": {"task": "conveyor.beat.start_job", "schedule": crontab(minute="*/5"),
                         "args": ("usage.rollup", {}), "options": {"expires": 300}},
        # Stored files (exports, uploads) past STORAGE_EXPIRE_HOURS: deleted on the maintenance line.
        "expire-files": {"task": "conveyor.beat.start_job", "schedule": crontab(minute=40),
                         "args": ("maintenance.expire_files", {}), "options": {"expires": 3000}},
        "cleanup-jobs": {"task": "conveyor.beat.cleanup_jobs", "schedule": crontab(minute=17, hour=3),
                         "options": {"expires": 3600}},
    }
