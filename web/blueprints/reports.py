"""/api/v1/reports: daily summaries (stored), low stock, the dashboard; JSON or CSV (`format=csv`).
Staff only: admins see any branch (all when none is named), managers and sellers their own."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from models import Branch, Role
from models.base import utcnow
from schemas.reports import (BranchArgsSchema, DailyArgsSchema, DailyReportSchema, DashboardArgsSchema,
                             DashboardSchema, LowStockReportSchema, RebuildSchema)
from services.reports import daily, dashboard, low_stock
from services.reports.days import check_range
from services.sales.catalogue import get
from web.auth import require_auth
from web.blueprints.jobs import submission
from web.branch_scope import branches_in_view
from web.csv_export import csv_response
from web.submit import submit_job
from worker.runtime import get_db, get_settings

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Reports: daily, low stock, dashboard")
STAFF = (Role.admin, Role.manager, Role.seller)
DAILY_COLUMNS = ("branch_id", "day", "timezone", "sales_count", "subtotal", "tax", "discount", "total",
                 "cancelled_count", "cancelled_total")
LOW_STOCK_COLUMNS = ("branch_id", "branch_code", "product_id", "sku", "name", "size", "quantity", "reserved",
                     "min_stock", "low_since")


@blp.route("/reports/daily")
class DailyReport(MethodView):
    @require_auth(*STAFF)
    @blp.arguments(DailyArgsSchema, location="query")
    @blp.response(200, DailyReportSchema)
    def get(self, args):
        """The stored daily summaries of the local days `from`..`to` (at most REPORTS_MAX_DAYS), by branch
        and day; a day not summed yet is absent. `format=csv` for a spreadsheet (one payment column each)."""
        check_range(args["first"], args["last"], get_settings().reports_max_days)
        branch_ids = branches_in_view(args["branch_id"])
        with get_db().read() as session:
            rows = daily.summaries(session, branch_ids, args["first"], args["last"])
        if args["format"] == "csv":
            methods = sorted({m for row in rows for m in row.by_payment})
            return csv_response(f"daily-{args['first']}-{args['last']}.csv",
                                [*DAILY_COLUMNS, *(f"paid_{m}" for m in methods)],
                                [[getattr(r, c) for c in DAILY_COLUMNS] + [r.by_payment.get(m, "0.00") for m in methods]
                                 for r in rows])
        return {"items": rows}


@blp.route("/reports/low-stock")
class LowStockReport(MethodView):
    @require_auth(*STAFF)
    @blp.arguments(BranchArgsSchema, location="query")
    @blp.response(200, LowStockReportSchema)
    def get(self, args):
        """Stock rows at or below their product's `min_stock` (active products), by branch, SKU and size."""
        branch_ids = branches_in_view(args["branch_id"])
        with get_db().read() as session:
            rows = low_stock.low_stock(session, branch_ids)
        if args["format"] == "csv":
            return csv_response("low-stock.csv", list(LOW_STOCK_COLUMNS),
                                [[row[c] for c in LOW_STOCK_COLUMNS] for row in rows])
        return {"items": rows}


@blp.route("/reports/dashboard")
class Dashboard(MethodView):
    @require_auth(*STAFF)
    @blp.arguments(DashboardArgsSchema, location="query")
    @blp.response(200, DashboardSchema)
    def get(self, args):
        """Per branch: today so far (local day, from the sales themselves), the last 7 days' totals (from
        the summaries; null for a day not summed), and the top products of those days and today."""
        branch_ids = branches_in_view(args["branch_id"])
        with get_db().read() as session:
            return dashboard.dashboard(session, branch_ids, utcnow())


@blp.route("/admin/reports/daily/rebuild")
class RebuildDaily(MethodView):
    @require_auth(Role.admin)
    @blp.arguments(RebuildSchema)
    @submission(blp)
    def post(self, data):
        """Re-sum the days `from`..`to` of one branch (or all): a `reports.rebuild_daily` job; the same
        figures as the nightly job writes, replacing what is stored."""
        check_range(data["first"], data["last"], get_settings().reports_max_days)
        if data["branch_id"] is not None:
            with get_db().read() as session:
                get(session, Branch, data["branch_id"])
        return submit_job("reports.rebuild_daily", {"branch_id": data["branch_id"], "from": str(data["first"]),
                                                    "to": str(data["last"])})
