"""/api/v1/market: what users can buy and their purchases; /api/v1/admin/market: the products (admins)."""

from __future__ import annotations

from flask.views import MethodView

from models import Role
from schemas.common import PageArgsSchema
from schemas.market import (MarketProductCreateSchema, MarketProductListSchema, MarketProductSchema,
                            MarketProductUpdateSchema, PurchaseCreateSchema, PurchasePageSchema, PurchaseSchema)
from services.market import products, purchases
from web.auth import current_principal, require_auth
from web.parsing import Blueprint
from worker.runtime import get_db

blp = Blueprint("market", __name__, url_prefix="/api/v1", description="The market: credit packs and tiers")


@blp.route("/market/products")
class Products(MethodView):
    @require_auth()
    @blp.response(200, MarketProductListSchema)
    def get(self):
        """The products on sale: credit packs and tiers (a price per period), with their prices."""
        with get_db().read() as session:
            return {"items": products.active_products(session)}


@blp.route("/market/purchases")
class Purchases(MethodView):
    @require_auth()
    @blp.arguments(PurchaseCreateSchema)
    @blp.response(201, PurchaseSchema)
    def post(self, data):
        """Start a purchase at the product's price now: `pending` until the payment provider's signed
        event, which names this purchase's `id` as `data.purchase_id`, completes or fails it."""
        with get_db().Session.begin() as session:
            return purchases.start_purchase(session, current_principal().user_id, data["product_id"])

    @require_auth()
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, PurchasePageSchema)
    def get(self, args):
        """Your purchases, newest first."""
        with get_db().read() as session:
            items, next_cursor = purchases.purchases_of(session, current_principal().user_id, limit=args["limit"],
                                                        cursor=args["cursor"])
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/admin/market/products")
class AdminProducts(MethodView):
    @require_auth(Role.admin)
    @blp.response(200, MarketProductListSchema)
    def get(self):
        """Every product, on sale or not."""
        with get_db().read() as session:
            return {"items": products.all_products(session)}

    @require_auth(Role.admin)
    @blp.arguments(MarketProductCreateSchema)
    @blp.response(201, MarketProductSchema)
    def post(self, data):
        """Add a pack (`credits`) or a tier product (`tier_id`)."""
        with get_db().Session.begin() as session:
            return products.create_product(session, data)


@blp.route("/admin/market/products/<int:product_id>")
class AdminProduct(MethodView):
    @require_auth(Role.admin)
    @blp.arguments(MarketProductUpdateSchema)
    @blp.response(200, MarketProductSchema)
    def patch(self, data, product_id):
        """Rename, reprice or (de)activate a product; purchases already made keep the price they were made at."""
        with get_db().Session.begin() as session:
            return products.update_product(session, product_id, data)
