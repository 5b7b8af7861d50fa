"""/api/v1/categories and /api/v1/products: the catalogue (admins and managers write, everyone signed in reads)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from models import Category, Product, Role
from schemas.sales import (CategoryListArgsSchema, CategoryPageSchema, CategorySchema, CategoryUpdateSchema,
                           ProductListArgsSchema, ProductPageSchema, ProductSchema, ProductUpdateSchema)
from services import sales
from web.auth import require_auth
from worker.runtime import get_db

blp = Blueprint("catalogue", __name__, url_prefix="/api/v1", description="Categories and products")
WRITERS = (Role.admin, Role.manager)


@blp.route("/categories")
class Categories(MethodView):
    @require_auth()
    @blp.arguments(CategoryListArgsSchema, location="query")
    @blp.response(200, CategoryPageSchema)
    def get(self, args):
        """Categories, newest first; filter by `active` and `parent_id`."""
        with get_db().read() as session:
            return sales.categories(session, active=args["active"], parent_id=args["parent_id"],
                                    limit=args["limit"], cursor=args["cursor"])

    @require_auth(*WRITERS)
    @blp.arguments(CategorySchema)
    @blp.response(201, CategorySchema)
    def post(self, data):
        """A category, optionally under a top-level parent (one level of nesting)."""
        with get_db().Session.begin() as session:
            return sales.create_category(session, data)


@blp.route("/categories/<int:category_id>")
class CategoryById(MethodView):
    @require_auth()
    @blp.response(200, CategorySchema)
    def get(self, category_id):
        with get_db().read() as session:
            return sales.get(session, Category, category_id)

    @require_auth(*WRITERS)
    @blp.arguments(CategoryUpdateSchema)
    @blp.response(200, CategorySchema)
    def patch(self, changes, category_id):
        with get_db().Session.begin() as session:
            return sales.update_category(session, category_id, changes)


@blp.route("/products")
class Products(MethodView):
    @require_auth()
    @blp.arguments(ProductListArgsSchema, location="query")
    @blp.response(200, ProductPageSchema)
    def get(self, args):
        """Products, newest first: `q` finds part of the name, or an exact SKU or barcode; filter by
        `category_id` and `active`."""
        with get_db().read() as session:
            return sales.products(session, q=args["q"], category_id=args["category_id"], active=args["active"],
                                  limit=args["limit"], cursor=args["cursor"])

    @require_auth(*WRITERS)
    @blp.arguments(ProductSchema)
    @blp.response(201, ProductSchema)
    @blp.alt_response(409, description="sku_taken or barcode_taken")
    def post(self, data):
        """A product: prices as decimal strings ("19.99"), sizes iff `has_sizes`."""
        with get_db().Session.begin() as session:
            return sales.create_product(session, data)


@blp.route("/products/<int:product_id>")
class ProductById(MethodView):
    @require_auth()
    @blp.response(200, ProductSchema)
    def get(self, product_id):
        with get_db().read() as session:
            return sales.get(session, Product, product_id)

    @require_auth(*WRITERS)
    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, ProductSchema)
    @blp.alt_response(409, description="sku_taken, barcode_taken or sizes_in_stock")
    def patch(self, changes, product_id):
        """Change a product; `active: false` takes it off sale."""
        with get_db().Session.begin() as session:
            return sales.update_product(session, product_id, changes)
