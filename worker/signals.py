"""Worker process hooks: fresh database connections after fork, our logging, metrics files."""

from __future__ import annotations

from celery import current_app as celery_app
from celery.signals import setup_logging, worker_process_init, worker_process_shutdown

from config.logging import configure_logging
from services.metrics import mark_process_dead


@worker_process_init.connect
def _dispose_engine_after_fork(**_):
    celery_app.flask_app.extensions["conveyor"].db.dispose_after_fork()


@worker_process_shutdown.connect
def _forget_metrics_of_dead_child(pid=None, **_):
    mark_process_dead(pid)


@setup_logging.connect
def _use_our_logging(**_):
    configure_logging(celery_app.flask_app.extensions["conveyor"].settings)
