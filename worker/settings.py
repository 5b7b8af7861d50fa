"""Celery's settings, for at-least-once delivery: a message is acked only after its task ran."""

from __future__ import annotations

from kombu import Queue

from config import Settings
from worker.routes import QUEUES, task_routes
from worker.schedule import beat_schedule


def celery_config(settings: Settings) -> dict:
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        # Fail a publish fast when the broker is away: the job is already safe in the database,
        # and the outbox dispatcher sends it later.
        "broker_connection_timeout": 2,
        "broker_transport_options": {"visibility_timeout": 3600, "socket_connect_timeout": 2,
                                     "socket_timeout": 5, "max_retries": 1},
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                                      "interval_max": 0.2},
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A broker blip must not kill running jobs: they finish, and their message, if it comes
        # back, finds the job done. (Celery's default would cancel every running task.)
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_concurrency": settings.worker_concurrency,
        "worker_hijack_root_logger": False,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # The jobs table is the result store; Celery keeps none.
        "task_ignore_result": True,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        # Per job kind they may be set lower or higher (tasks.base.job_task).
        "task_soft_time_limit": settings.job_soft_time_limit_seconds,
        "task_time_limit": settings.job_time_limit_seconds,
        "task_default_queue": "default",
        "task_queues": [Queue(name) for name in QUEUES],
        "task_routes": task_routes(),
        # Only the worker imports the tasks; the web sends them by name.
        "include": ["tasks"],
        "beat_schedule": beat_schedule(settings),
        "timezone": "UTC",
    }
