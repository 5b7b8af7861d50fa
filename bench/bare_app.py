"""The submission baseline: a bare Flask app whose one endpoint only publishes a Celery message.

`gunicorn -c config/gunicorn.py 'bench.bare_app:create_app()'` serves it with Conveyor's gunicorn
settings. `POST /submit` publishes `conveyor.jobs.ping` to queue `default` with a fresh task id as
its id and only argument, through a Celery app with Conveyor's own configuration (the same broker,
serializer, retry policy and sent events), and answers 202 with a small JSON body. No auth, no
validation, no database: the floor under what Conveyor's POST /api/v1/jobs/ping can cost.
"""

from __future__ import annotations

import uuid

from celery import Celery
from flask import Flask, jsonify, request

from config import load_settings
from worker.settings import celery_config

TASK_NAME = "conveyor.jobs.ping"


def create_app() -> Flask:
    celery = Celery("conveyor_bench_bare_web")
    celery.config_from_object(celery_config(load_settings()))
    app = Flask("conveyor_bench_bare")

    @app.get("/ping")
    def ping():
        return jsonify({"status": "ok"})

    @app.post("/submit")
    def submit():
        request.get_json(silent=True)
        task_id = str(uuid.uuid4())
        celery.send_task(TASK_NAME, args=[task_id], queue="default", task_id=task_id)
        response = jsonify({"id": task_id, "status": "queued"})
        response.status_code = 202
        response.headers["Location"] = f"/api/v1/jobs/{task_id}"
        return response

    return app
