"""Signed payment webhooks: `Conveyor-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`."""

from __future__ import annotations

import hashlib
import hmac
import time

from services.errors import InvalidInput

TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, now: float | None = None) -> None:
    """Raise InvalidInput unless the header signs this body, within five minutes of now."""
    parts = dict(item.split("=", 1) for item in (header or "").split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError) as exc:
        raise InvalidInput("a Conveyor-Signature header of the form t=...,v1=... is required",
                           code="invalid_signature") from exc
    if abs((now or time.time()) - timestamp) > TOLERANCE_SECONDS:
        raise InvalidInput("the signature's timestamp is more than 5 minutes off", code="stale_signature")
    if not hmac.compare_digest(sign(secret, body, timestamp).split("v1=", 1)[1], given):
        raise InvalidInput("the signature does not match the body", code="invalid_signature")
