"""The worker's entry point: `celery -A worker.app worker` (and beat, and flower)."""

from web import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
