"""Errors the domain raises; the web layer maps them to the JSON envelope, tasks to a job's error."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the operation: not worth retrying."""

    code = "domain_error"
    status = 422

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details or {}
        self.status = status or self.status

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 400


class TransientError(Exception):
    """A failure that may pass (a provider's 429/5xx, a service briefly away): the job retries."""

    def __init__(self, message: str, *, code: str = "transient_error"):
        super().__init__(message)
        self.message = message
        self.code = code
