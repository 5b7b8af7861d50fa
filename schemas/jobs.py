"""Jobs: the one shape every family's job has, the list filters, and ping's request."""

from __future__ import annotations

from marshmallow import Schema, fields

from models import JobStatus
from schemas.common import BoundedInt, PageArgsSchema, Text, page_schema


class ProgressSchema(Schema):
    done = fields.Integer(attribute="progress_done")
    total = fields.Integer(attribute="progress_total", allow_none=True)
    message = fields.String(attribute="progress_message", allow_none=True)


_PROGRESS = ProgressSchema()


class JobSchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    owner_id = fields.Integer(allow_none=True, metadata={"description": "null for a system job"})
    parent_id = fields.UUID(allow_none=True)
    status = fields.Enum(JobStatus, by_value=True)
    queue = fields.String()
    progress = fields.Function(lambda job: _PROGRESS.dump(job))
    payload = fields.Dict()
    result = fields.Dict(allow_none=True)
    error = fields.Dict(allow_none=True, metadata={"description": '{"code", "message", "details"}'})
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    cancel_requested = fields.Boolean()
    idempotency_key = fields.String(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class JobEventSchema(Schema):
    attempt = fields.Integer()
    event = fields.String()
    detail = fields.String(allow_none=True)
    at = fields.DateTime()


JobPageSchema = page_schema(JobSchema, "JobPage")
JobEventPageSchema = Schema.from_dict({"items": fields.List(fields.Nested(JobEventSchema))}, name="JobEvents")


class JobListArgsSchema(PageArgsSchema):
    kind = Text(64, load_default=None)
    status = fields.Enum(JobStatus, by_value=True, load_default=None)
    parent_id = fields.UUID(load_default=None, metadata={"description": "only the children of this job"})


class PingSchema(Schema):
    sleep_ms = BoundedInt(0, 60_000, load_default=0)
    fail_times = BoundedInt(0, 20, load_default=0)
    steps = BoundedInt(0, 1000, load_default=0)
