"""/api/v1/admin/flags: feature flags that admins switch at run time (maintenance mode)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from models import Role
from schemas.flags import FlagSchema, SetFlagSchema
from services import flags
from web.auth import current_principal, require_auth
from web.maintenance import flag_cache
from worker.runtime import get_db

blp = Blueprint("flags", __name__, url_prefix="/api/v1/admin/flags", description="Feature flags (admins)")


@blp.route("/<flag_name>")
class Flag(MethodView):
    @require_auth(Role.admin)
    @blp.response(200, FlagSchema)
    def get(self, flag_name):
        """A flag as stored now (off when never set). Known flags: `maintenance_mode`."""
        with get_db().read() as session:
            return flags.get_flag(session, flag_name)

    @require_auth(Role.admin)
    @blp.arguments(SetFlagSchema)
    @blp.response(200, FlagSchema)
    def put(self, data, flag_name):
        """Switch a flag; every web process sees the change at once. `maintenance_mode`: writes answer
        503 with `message` (admins, login and the payments webhook excepted)."""
        with get_db().Session.begin() as session:
            state = flags.set_flag(session, flag_name, data["enabled"], data["message"],
                                   current_principal().user_id)
        flag_cache().changed(flag_name)
        return state
