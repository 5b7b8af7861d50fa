"""/api/v1/tiers, /api/v1/subscription, and the admins' /api/v1/admin/tiers and users' subscriptions."""

from __future__ import annotations

import uuid

from flask.views import MethodView

from models import Role
from models.base import utcnow
from schemas.subscriptions import (SubscriptionChangeResultSchema, SubscriptionChangeSchema, SubscriptionSchema,
                                   TierCreateSchema, TierSchema, TierUpdateSchema)
from services import billing
from services.subscriptions import changes, status, tiers
from web.auth import current_principal, require_auth
from web.parsing import Blueprint
from worker.runtime import get_db

blp = Blueprint("subscriptions", __name__, url_prefix="/api/v1", description="Tiers and subscriptions")


@blp.route("/tiers")
class Tiers(MethodView):
    @require_auth()
    @blp.response(200, TierSchema(many=True))
    def get(self):
        """The tiers one can subscribe to."""
        with get_db().read() as session:
            return tiers.list_tiers(session, active_only=True)


@blp.route("/subscription")
class MySubscription(MethodView):
    @require_auth()
    @blp.response(200, SubscriptionSchema)
    def get(self):
        """Your tier, its current period, the allowance, what was granted and used this period, the next refresh."""
        with get_db().read() as session:
            return status.subscription_view(session, current_principal().user_id)


@blp.route("/admin/tiers")
class AdminTiers(MethodView):
    @require_auth(Role.admin)
    @blp.response(200, TierSchema(many=True))
    def get(self):
        """Every tier, inactive ones included."""
        with get_db().read() as session:
            return tiers.list_tiers(session, active_only=False)

    @require_auth(Role.admin)
    @blp.arguments(TierCreateSchema)
    @blp.response(201, TierSchema)
    def post(self, data):
        """Create a tier."""
        with get_db().Session.begin() as session:
            return tiers.create_tier(session, data)


@blp.route("/admin/tiers/<int:tier_id>")
class AdminTier(MethodView):
    @require_auth(Role.admin)
    @blp.arguments(TierUpdateSchema)
    @blp.response(200, TierSchema)
    def patch(self, data, tier_id):
        """Change a tier (not its period); subscribers get a new allowance from their next period."""
        with get_db().Session.begin() as session:
            return tiers.update_tier(session, tier_id, data)


@blp.route("/admin/users/<int:user_id>/subscription")
class AdminUserSubscription(MethodView):
    @require_auth(Role.admin)
    @blp.response(200, SubscriptionSchema)
    def get(self, user_id):
        """A user's subscription."""
        with get_db().read() as session:
            return status.subscription_view(session, user_id)

    @require_auth(Role.admin)
    @blp.arguments(SubscriptionChangeSchema)
    @blp.response(200, SubscriptionChangeResultSchema)
    def put(self, data, user_id):
        """Move a user to a tier (upgrade now pro rata, downgrade at the next period) or cancel; a repeated
        `reference` changes nothing twice."""
        with get_db().Session.begin() as session:
            billing.require_user(session, user_id)
            return changes.apply_change(session, user_id, data, now=utcnow(),
                                        reference=data["reference"] or f"admin:{uuid.uuid4()}")

