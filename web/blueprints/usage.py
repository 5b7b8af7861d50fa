"""/api/v1/usage (your own) and /api/v1/admin/analytics/usage (admins): the usage rollups, in JSON or
CSV (`format=csv` or `Accept: text/csv`)."""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from models import Role
from models.usage import MEASURES
from schemas.usage import AdminUsageArgsSchema, UsageArgsSchema, UsageSchema
from services.reports.days import check_range
from services.usage import queries
from web.auth import current_principal, require_auth
from web.csv_export import csv_response
from web.parsing import Blueprint
from worker.runtime import get_db, get_settings

blp = Blueprint("usage", __name__, url_prefix="/api/v1", description="Usage analytics")


def _answer(args: dict, user_id: int | None):
    check_range(args["first"], args["last"], get_settings().usage_max_days)
    with get_db().read() as session:
        rows = queries.usage(session, args["first"], args["last"], args["group_by"], user_id=user_id)
    wants_csv = request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    if args["format"] == "csv" or wants_csv:
        key = queries.GROUPS[args["group_by"]][2]
        return csv_response(f"usage-{args['group_by']}-{args['first']}-{args['last']}.csv", [key, *MEASURES],
                            [[row[key], *(row[m] for m in MEASURES)] for row in rows])
    return {"group_by": args["group_by"], "items": rows}


@blp.route("/usage")
class Usage(MethodView):
    @require_auth()
    @blp.arguments(UsageArgsSchema, location="query")
    @blp.response(200, UsageSchema)
    def get(self, args):
        """Your usage over the UTC days `from`..`to` (at most USAGE_MAX_DAYS), by day or by model, as of
        the last rollup (every five minutes)."""
        return _answer(args, current_principal().user_id)


@blp.route("/admin/analytics/usage")
class AdminUsage(MethodView):
    @require_auth(Role.admin)
    @blp.arguments(AdminUsageArgsSchema, location="query")
    @blp.response(200, UsageSchema)
    def get(self, args):
        """Everyone's usage over `from`..`to`, by day, tier, user or model."""
        return _answer(args, None)
