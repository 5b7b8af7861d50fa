"""A job's live stream as Server-Sent Events: what happened since `Last-Event-ID`, then each event as
it is published, until the job ends.

Events: `snapshot` (the whole job, first, unless the client resumes), the job's transitions
(`queued`, `running`, `retry`, `waiting`, ...), `progress`, whatever its kind publishes (an LLM
call's `token`s), and last `end` (the whole job, finished), after which the server closes the
stream. Every event carries its id; a comment line keeps an idle connection alive.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Iterator

from models import Job
from schemas.jobs import JobSchema
from worker.job_events import Event, id_order
from worker.subscriptions import RESYNC

EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
RETRY_MS = 2000  # how soon a browser's EventSource reconnects
_JOB = JobSchema()


def sse(event: str, data: dict, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


def last_event_id(header: str | None) -> str | None:
    """A `Last-Event-ID` we gave out, or None (a malformed one is ignored: the client gets a snapshot)."""
    return header if header and EVENT_ID.match(header) else None


class JobStream:
    def __init__(self, runtime, job_id: uuid.UUID, resume_from: str | None):
        self.runtime = runtime
        self.job_id = job_id
        self.resume_from = resume_from
        self.last = resume_from or "0-0"
        self.ended = False

    def __iter__(self) -> Iterator[str]:
        keepalive = self.runtime.settings.stream_keepalive_seconds
        with self.runtime.subscriptions.watch(self.job_id) as watch:
            yield f"retry: {RETRY_MS}\n\n"
            yield from self._catch_up(self.resume_from)
            while not self.ended:
                item = watch.next(min(keepalive, 1.0) if watch.degraded else keepalive)
                if item is None:
                    yield ": keep-alive\n\n"
                    yield from self._end_if_finished()  # the database has the last word
                elif item is RESYNC:
                    yield from self._catch_up(self.last)
                elif id_order(item.id) > id_order(self.last):
                    yield from self._send(item)

    def _catch_up(self, since: str | None) -> Iterator[str]:
        """The events after `since` from the job's stream, or a snapshot when they cannot all be told."""
        missed = self.runtime.events.after(self.job_id, since) if since else None
        if missed is None:
            job = self._load()
            self.last = max(self.last, self.runtime.events.last_id(self.job_id), key=id_order)
            yield sse("snapshot", _JOB.dump(job), self.last)
            if job.status.finished:
                yield self._end(job)
            return
        for event in missed:
            yield from self._send(event)
            if self.ended:
                return

    def _send(self, event: Event) -> Iterator[str]:
        self.last = event.id
        yield sse(event.event, event.data, event.id)
        if event.final:
            yield self._end(self._load())

    def _end_if_finished(self) -> Iterator[str]:
        job = self._load()
        if job.status.finished:
            yield from self._catch_up(self.last)
            if not self.ended:
                yield self._end(job)

    def _end(self, job: Job) -> str:
        self.ended = True
        return sse("end", _JOB.dump(job), self.last)

    def _load(self) -> Job:
        with self.runtime.db.read() as session:
            return session.get(Job, self.job_id)
