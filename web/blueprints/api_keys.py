"""/api/v1/api-keys: a user's API keys, managed from a sign-in session only (never with a key)."""

from __future__ import annotations

from flask.views import MethodView

from models import ApiKey
from models.base import INT32_MAX
from schemas.api_keys import ApiKeyPageSchema, ApiKeySchema, CreateApiKeySchema, CreatedApiKeySchema
from schemas.common import PageArgsSchema
from services import api_keys
from services.errors import NotFound
from services.pagination import page
from web import identity_cache
from web.auth import current_principal, require_auth
from web.parsing import Blueprint
from worker.runtime import get_db

blp = Blueprint("api_keys", __name__, url_prefix="/api/v1/api-keys",
                description="Your API keys: bearer credentials for programs")


@blp.route("")
class ApiKeys(MethodView):
    @require_auth(session_only=True)
    @blp.arguments(CreateApiKeySchema)
    @blp.response(201, CreatedApiKeySchema)
    def post(self, data):
        """Make a key: the answer shows it once (only its digest is kept). Send it as
        `Authorization: Bearer ck_...`; it acts as you until you revoke it."""
        with get_db().Session.begin() as session:
            row, key = api_keys.create(session, current_principal().user_id, data["name"])
            return {**{name: getattr(row, name) for name in ApiKeySchema().fields}, "key": key}

    @require_auth(session_only=True)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ApiKeyPageSchema)
    def get(self, args):
        """Your keys, newest first, revoked ones included (never the keys themselves)."""
        with get_db().read() as session:
            items, next_cursor = page(session, api_keys.keys_of(current_principal().user_id), ApiKey,
                                      args["limit"], args["cursor"])
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/<int:key_id>")
class ApiKeyById(MethodView):
    @require_auth(session_only=True)
    @blp.response(204)
    def delete(self, key_id):
        """Revoke one of your keys: refused from this moment, by every web process."""
        if key_id > INT32_MAX:
            raise NotFound("no such API key", code="unknown_api_key")
        with get_db().Session.begin() as session:
            row = api_keys.revoke(session, current_principal().user_id, key_id)
        identity_cache.api_key_revoked(row)
