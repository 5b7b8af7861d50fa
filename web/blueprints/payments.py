"""/api/v1/billing/webhooks/payments: a payment provider tells us a payment succeeded (signed, no JWT)."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView
from marshmallow import ValidationError

from schemas.billing import IgnoredEventSchema, PaymentDataSchema, PaymentEventSchema
from schemas.jobs import JobSchema
from schemas.market import PurchaseEventDataSchema
from services import billing
from services.billing import signatures
from services.errors import DomainError, InvalidInput
from worker.runtime import get_db, get_settings
from web import purchase_events
from web.parsing import Blueprint
from web.submit import submit_job
from web.subscription_events import subscription_updated

blp = Blueprint("payments", __name__, url_prefix="/api/v1/billing/webhooks", description="Payment webhooks")


def _load(schema, data) -> dict:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise DomainError("the event is not valid", code="validation_error", details={"json": exc.messages}) from exc


@blp.route("/payments")
class Payments(MethodView):
    @blp.doc(security=[], parameters=[{"in": "header", "name": "Conveyor-Signature", "required": True,
                                       "schema": {"type": "string", "example": "t=1700000000,v1=5f2b..."}}],
             # Documented, not parsed by flask-smorest: the signature covers the raw bytes, checked first.
             requestBody={"required": True, "content": {"application/json": {"schema": PaymentEventSchema}}},
             responses={"200": {"description": "The event was seen before (its job), or is of a type we ignore",
                                "content": {"application/json": {"schema": {
                                    "anyOf": [JobSchema, IgnoredEventSchema]}}}}})
    @blp.response(202, JobSchema, description="The top-up job")
    def post(self):
        """Enqueue a top-up of the user's purchased credits, or (when `data.purchase_id` is given) the
        completion, failure or refund of that purchase; apply a `subscription.updated` event. Each event
        id acts once."""
        body = request.get_data(cache=True)
        signatures.verify(get_settings().payment_webhook_secrets, request.headers.get("Conveyor-Signature"), body)
        event = request.get_json(silent=True)
        if event is None:
            raise InvalidInput("the request body is not valid JSON", code="malformed_json")
        event = _load(PaymentEventSchema(), event)
        if event["type"] == "subscription.updated":
            return jsonify(subscription_updated(event)), 200
        if "purchase_id" in event["data"]:
            return purchase_events.handle(event, _load(PurchaseEventDataSchema(), event["data"]))
        if event["type"] != "payment.succeeded":
            return jsonify({"status": "ignored", "type": event["type"]}), 200
        data = _load(PaymentDataSchema(), event["data"])
        with get_db().read() as session:
            billing.require_user(session, data["user_id"])
        payload = {"event_id": event["id"], **data}
        # A system job: the payer can neither see nor cancel the top-up they paid for.
        return submit_job("billing.topup", payload, owner_id=None, idempotency_key=f"payment event {event['id']}")
