"""The sales family: the catalogue (branches, categories, products) and per-branch stock."""

from services.sales.catalogue import (branches, categories, create_branch, create_category, create_product, get,
                                      products, update_branch, update_category, update_product)
from services.sales.reconcile import reconcile_stock
from services.sales.stock import InsufficientStock, adjust, check_lines, movements_of, stock_of, transfer

__all__ = ["InsufficientStock", "adjust", "branches", "categories", "check_lines", "create_branch",
           "create_category", "create_product", "get", "movements_of", "products", "reconcile_stock", "stock_of", "transfer",
           "update_branch", "update_category", "update_product"]
