"""The payment webhook's events that name a purchase (`data.purchase_id`): each becomes a system job, once
per event id; a payment whose amount or currency is not the purchase's is refused (422) and recorded."""

from __future__ import annotations

from flask import jsonify

from services.errors import DomainError
from services.market.purchases import get_purchase, payment_mismatch, refuse_event
from web.submit import submit_job
from worker.runtime import get_db

JOB_OF_EVENT = {"payment.succeeded": "market.complete_purchase", "payment.failed": "market.fail_purchase",
                "payment.refunded": "market.refund_purchase"}


def handle(event: dict, data: dict):
    kind = JOB_OF_EVENT.get(event["type"])
    if kind is None:
        return jsonify({"status": "ignored", "type": event["type"]}), 200
    payload = {"event_id": event["id"], "purchase_id": data["purchase_id"]}
    with get_db().read() as session:
        purchase = get_purchase(session, data["purchase_id"])
    if event["type"] == "payment.succeeded":
        if data["amount"] is None or data["currency"] is None:
            raise DomainError("a payment names its amount and currency", code="validation_error",
                              details={"json": {"amount": ["required"], "currency": ["required"]}})
        # A purchase's price never changes: checked here, the event is refused at once (and again in the job).
        if refused := payment_mismatch(purchase, data["amount"], data["currency"]):
            with get_db().Session.begin() as session:
                refuse_event(session, purchase.id, event, refused)
            raise refused
        payload.update(amount=str(data["amount"]), currency=data["currency"])
    return submit_job(kind, payload, owner_id=None, idempotency_key=f"payment event {event['id']}")
