"""`celery_init_app(app)`: Flask's "Background Tasks with Celery" pattern."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask

from config import Settings
from worker.settings import celery_config


class AppContextTask(Task):
    """Runs every task inside the Flask app's context, where `get_runtime()` finds the runtime."""

    def __call__(self, *args, **kwargs):
        with self.app.flask_app.app_context():
            return self.run(*args, **kwargs)


def celery_init_app(app: Flask, settings: Settings) -> Celery:
    celery_app = Celery(app.name, task_cls=AppContextTask)
    celery_app.config_from_object(celery_config(settings))
    celery_app.flask_app = app
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    import worker.signals  # noqa: F401

    return celery_app
