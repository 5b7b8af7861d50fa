"""The worker's entry point: `celery -A worker.app worker` (and beat, and flower)."""

from worker.runtime import create_runtime_app

# Workers skip the pool's pre-ping round trip: a connection that died makes its job retry.
flask_app = create_runtime_app(db_pre_ping=False)
celery_app = flask_app.extensions["celery"]
