"""`celery_init_app(app)`: Flask's "Background Tasks with Celery" pattern."""

from __future__ import annotations

from celery import Celery
from flask import Flask

from config import Settings
from worker.settings import celery_config


def celery_init_app(app: Flask, settings: Settings) -> Celery:
    from tasks.base import AppContextTask

    celery_app = Celery(app.name, task_cls=AppContextTask)
    celery_app.config_from_object(celery_config(settings))
    celery_app.flask_app = app
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    import tasks  # noqa: F401  registers every task with this app
    import worker.signals  # noqa: F401

    return celery_app
