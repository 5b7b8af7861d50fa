"""The payments webhook's `subscription.updated` event: a provider moved a user to a tier or cancelled them.

Signed and replay-checked by the webhook like `payment.succeeded`; applied at once, once per event id
(the change's reference is `event:<id>`, so a re-sent event answers its first outcome).
"""

from __future__ import annotations

from marshmallow import ValidationError

from schemas.subscriptions import SubscriptionEventDataSchema
from services import billing
from services.errors import DomainError
from services.subscriptions import changes
from models.base import utcnow
from worker.runtime import get_db


def subscription_updated(event: dict) -> dict:
    try:
        data = SubscriptionEventDataSchema().load(event["data"])
    except ValidationError as exc:
        raise DomainError("the event is not valid", code="validation_error", details={"json": exc.messages}) from exc
    with get_db().Session.begin() as session:
        billing.require_user(session, data["user_id"])
        return changes.apply_change(session, data["user_id"], data, now=utcnow(), reference=f"event:{event['id']}")
