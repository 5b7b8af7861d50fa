"""Signed payment webhooks: `Conveyor-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.

A header may carry several `v1=` signatures and several secrets may be configured, so that a secret
can be rotated without dropping events: the header is valid when any signature matches any secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Sequence

from services.errors import InvalidInput

TOLERANCE_SECONDS = 300
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only, and few enough to compare with a float
SIGNATURE = re.compile(r"[0-9a-f]{64}")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse(header: str | None) -> tuple[int, list[str]]:
    """The header's one timestamp and its well-formed `v1` signatures (others can never match)."""
    pairs = [item.partition("=") for item in (header or "").split(",")]
    timestamps = [value for name, _, value in pairs if name == "t"]
    given = [value for name, _, value in pairs if name == "v1" and SIGNATURE.fullmatch(value)]
    if len(timestamps) != 1 or not TIMESTAMP.fullmatch(timestamps[0]) or not given:
        raise InvalidInput("a Conveyor-Signature header of the form t=...,v1=... is required",
                           code="invalid_signature")
    return int(timestamps[0]), given


def verify(secrets: Sequence[str], header: str | None, body: bytes, now: float | None = None) -> None:
    """Raise InvalidInput unless the header signs this body with one of `secrets`, within five minutes of now."""
    timestamp, given = _parse(header)
    if abs((now or time.time()) - timestamp) > TOLERANCE_SECONDS:
        raise InvalidInput("the signature's timestamp is more than 5 minutes off", code="stale_signature")
    expected = [_digest(secret, body, timestamp) for secret in secrets]
    # Every comparison runs, so the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(e, g) for e in expected for g in given]
    if not any(matches):
        raise InvalidInput("the signature does not match the body", code="invalid_signature")
