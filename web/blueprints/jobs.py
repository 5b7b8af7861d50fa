"""/api/v1/jobs: read, list and cancel jobs of every kind; submit the diagnostic `ping`."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from models import JobStatus
from schemas.common import ErrorEnvelopeSchema
from schemas.jobs import JobEventPageSchema, JobListArgsSchema, JobPageSchema, JobSchema, PingSchema
from services import jobs as job_service
from services.metrics import record_finished
from web.auth import current_principal, require_auth
from web.limits import submit_limit
from web.parsing import Blueprint
from web.streams import JobStream, last_event_id
from web.submit import submit_job
from worker.runtime import get_db, get_runtime

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Jobs of every kind")

SUBMIT_DOC = {"parameters": [
    {"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 255},
     "description": "Repeat a request safely: the same key returns the same job (200)."},
    {"in": "header", "name": "Prefer", "schema": {"type": "string", "example": "wait=10"},
     "description": "wait=N (N ≤ 30): hold the answer until the job finishes, at most N seconds."},
]}


def submission(blueprint: Blueprint, schema=JobSchema):
    """What every submit endpoint shares: the per-user submission limit, and the documentation: 202
    queued, 200 repeated or finished, 409 key reuse. `schema`: what it answers (the job, or the
    record the job makes)."""

    def decorate(fn):
        fn = submit_limit(fn)
        fn = blueprint.alt_response(409, schema=ErrorEnvelopeSchema, description="Idempotency-Key reused")(fn)
        fn = blueprint.alt_response(200, schema=schema, description="Same Idempotency-Key, or finished")(fn)
        fn = blueprint.response(202, schema, description="Accepted; poll the Location")(fn)
        return blueprint.doc(**SUBMIT_DOC)(fn)

    return decorate


@blp.route("")
class Jobs(MethodView):
    @require_auth()
    @blp.arguments(JobListArgsSchema, location="query")
    @blp.response(200, JobPageSchema)
    def get(self, args):
        """Your jobs (admins: everyone's), newest first, filtered by kind and status."""
        with get_db().read() as session:
            items, next_cursor = job_service.list_for(session, current_principal(), kind=args["kind"],
                                                      status=args["status"], parent_id=args["parent_id"],
                                                      limit=args["limit"], cursor=args["cursor"])
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/ping")
class Ping(MethodView):
    @require_auth()
    @blp.arguments(PingSchema)
    @submission(blp)
    def post(self, data):
        """Submit a diagnostic job: sleeps, reports progress `steps` times, fails `fail_times` times."""
        return submit_job("ping", data)


@blp.route("/<uuid:job_id>")
class JobById(MethodView):
    @require_auth()
    @blp.response(200, JobSchema)
    def get(self, job_id):
        """One job: status, progress, result or error."""
        with get_db().read() as session:
            return job_service.get(session, job_id, current_principal())


@blp.route("/<uuid:job_id>/events")
class JobEvents(MethodView):
    @require_auth()
    @blp.response(200, JobEventPageSchema)
    def get(self, job_id):
        """The job's transitions, oldest first: each attempt, retry and lease expiry."""
        with get_db().read() as session:
            job_service.get(session, job_id, current_principal())
            return {"items": job_service.events_of(session, job_id)}


@blp.route("/<uuid:job_id>/stream")
class JobEventStream(MethodView):
    @require_auth()
    @blp.doc(parameters=[{"in": "header", "name": "Last-Event-ID", "schema": {"type": "string"},
                          "description": "Resume after this event (what the stream's `id:` lines gave)."}],
             responses={"200": {"description": "Server-Sent Events until the job ends (see the README)",
                                "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
    @blp.alt_response(404, schema=ErrorEnvelopeSchema, description="No such job")
    def get(self, job_id):
        """The job's live events (Server-Sent Events): a snapshot, its transitions, progress, its own
        events, and `end`; resumable with `Last-Event-ID`."""
        with get_db().read() as session:
            job_service.get(session, job_id, current_principal())
        stream = JobStream(get_runtime(), job_id, last_event_id(request.headers.get("Last-Event-ID")))
        return Response(iter(stream), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@blp.route("/<uuid:job_id>/cancel")
class CancelJob(MethodView):
    @require_auth()
    @blp.response(200, JobSchema)
    @blp.alt_response(409, schema=ErrorEnvelopeSchema, description="The job has already finished")
    def post(self, job_id):
        """Cancel a queued or waiting job (and its children) at once, or ask a running one to stop."""
        with get_db().Session.begin() as session:
            job = job_service.cancel(session, job_id, current_principal())
        if job.status == JobStatus.cancelled:
            record_finished(job.kind, job.status.value)
        return job
