"""gunicorn settings, all from the environment: `gunicorn -c config/gunicorn.py 'web:create_app()'`."""

import os

from prometheus_client import multiprocess

from config import load_settings_or_exit

# Validate the settings in the master: a missing secret stops gunicorn at once, naming the variable,
# instead of workers failing to boot over and over.
load_settings_or_exit()

# A development start (`make run`) listens on loopback only unless HOST says otherwise.
_default_host = "127.0.0.1" if os.environ.get("CONVEYOR_ENV") == "development" else "0.0.0.0"
bind = f"{os.environ.get('HOST', _default_host)}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gevent: a request that waits (`Prefer: wait`, a job's live stream) holds a greenlet, not a thread,
# so thousands can wait while the rest of the API answers.
worker_class = "config.gunicorn_worker.JsonErrorWorker"  # gevent's, with gunicorn's own errors in our envelope
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "2000"))
timeout = 60
graceful_timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESS_LOG")  # unset: no access log (the app logs requests' errors)


def child_exit(_server, worker):
    multiprocess.mark_process_dead(worker.pid)
