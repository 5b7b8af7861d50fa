"""/api/v1: characters (admins manage them), chat sessions and their messages (each answered by an `llm.chat`
job), and the moderation review list."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select

from models import Character, ModerationFlag, Role
from schemas.common import PageArgsSchema
from schemas.llm import (CharacterListSchema, CharacterSchema, CharacterUpdateSchema, ChatMessagePageSchema,
                         ChatSessionPageSchema, ChatSessionSchema, ModerationFlagPageSchema, NewMessageSchema,
                         RenameSchema)
from services.llm import chat
from services.llm.providers import catalogue
from services.pagination import page
from web.auth import current_principal, require_auth
from web.blueprints.jobs import submission
from web.parsing import Blueprint
from web.submit import submit_job
from worker.runtime import get_db, get_settings

blp = Blueprint("chat", __name__, url_prefix="/api/v1", description="Chat: characters, sessions, messages")


@blp.route("/characters")
class Characters(MethodView):
    @require_auth()
    @blp.response(200, CharacterListSchema)
    def get(self):
        """The active characters a chat session may start from."""
        with get_db().read() as session:
            return {"items": chat.characters(session, active_only=True)}


@blp.route("/admin/characters")
class AdminCharacters(MethodView):
    @require_auth(Role.admin)
    @blp.response(200, CharacterListSchema)
    def get(self):
        """Every character, inactive ones included."""
        with get_db().read() as session:
            return {"items": chat.characters(session, active_only=False)}

    @require_auth(Role.admin)
    @blp.arguments(CharacterSchema)
    @blp.response(201, CharacterSchema)
    def post(self, data):
        """Make a character; its name is unique."""
        catalogue(get_settings()).chain(data["default_model"])
        with get_db().Session.begin() as session:
            chat.require_free_name(session, data["name"])
            character = Character(**data)
            session.add(character)
        return character


@blp.route("/admin/characters/<int:character_id>")
class AdminCharacter(MethodView):
    @require_auth(Role.admin)
    @blp.arguments(CharacterUpdateSchema())
    @blp.response(200, CharacterSchema)
    def patch(self, data, character_id):
        """Change a character; its sessions see the new prompt from their next message."""
        if "default_model" in data:
            catalogue(get_settings()).chain(data["default_model"])
        with get_db().Session.begin() as session:
            character = chat.get_character(session, character_id, active_only=False)
            if data.get("name", character.name) != character.name:
                chat.require_free_name(session, data["name"])
            for name, value in data.items():
                setattr(character, name, value)
        return character

    @require_auth(Role.admin)
    @blp.response(204)
    def delete(self, character_id):
        """Delete a character; its sessions go on without a system prompt."""
        with get_db().Session.begin() as session:
            session.delete(chat.get_character(session, character_id, active_only=False))


@blp.route("/chat/sessions")
class Sessions(MethodView):
    @require_auth()
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ChatSessionPageSchema)
    def get(self, args):
        """Your chat sessions, newest first."""
        with get_db().read() as session:
            items, cursor = chat.sessions_of(session, current_principal().user_id, args["limit"], args["cursor"])
        return {"items": items, "next_cursor": cursor}

    @require_auth()
    @blp.arguments(ChatSessionSchema)
    @blp.response(201, ChatSessionSchema)
    def post(self, data):
        """Start a session with a character (its default model unless `model` is given) or none."""
        with get_db().Session.begin() as session:
            return chat.start_session(session, current_principal().user_id, data["character_id"], data["model"],
                                      data["title"], catalogue(get_settings()))


@blp.route("/chat/sessions/<int:session_id>")
class SessionById(MethodView):
    @require_auth()
    @blp.response(200, ChatSessionSchema)
    def get(self, session_id):
        with get_db().read() as session:
            return chat.get_session(session, current_principal().user_id, session_id)

    @require_auth()
    @blp.arguments(RenameSchema)
    @blp.response(200, ChatSessionSchema)
    def patch(self, data, session_id):
        """Rename the session."""
        with get_db().Session.begin() as session:
            chat_session = chat.get_session(session, current_principal().user_id, session_id)
            chat_session.title = data["title"]
        return chat_session

    @require_auth()
    @blp.response(204)
    def delete(self, session_id):
        """Delete the session and its messages (the calls' records and charges stay)."""
        with get_db().Session.begin() as session:
            session.delete(chat.get_session(session, current_principal().user_id, session_id))


@blp.route("/chat/sessions/<int:session_id>/messages")
class Messages(MethodView):
    @require_auth()
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ChatMessagePageSchema)
    def get(self, args, session_id):
        """The session's messages, newest first, the answers with their tokens, cost, model and provider."""
        with get_db().read() as session:
            items, cursor = chat.messages_of(session, current_principal().user_id, session_id, args["limit"],
                                             args["cursor"])
        return {"items": items, "next_cursor": cursor}

    @require_auth()
    @blp.arguments(NewMessageSchema)
    @submission(blp)
    def post(self, data, session_id):
        """Send a message: an `llm.chat` job answers it (its tokens stream at `/api/v1/jobs/<id>/stream`;
        `Prefer: wait=N` answers with the finished job, the message in its result)."""
        user_id = current_principal().user_id
        with get_db().read() as session:
            chat.get_session(session, user_id, session_id)
        max_tokens = data["max_tokens"] or get_settings().llm_default_max_tokens

        def write_message(session, job):
            chat.add_user_message(session, chat.get_session(session, user_id, session_id), data["content"], job.id)

        return submit_job("llm.chat", {"session_id": session_id, "max_tokens": max_tokens}, write_message)


@blp.route("/admin/moderation")
class Moderation(MethodView):
    @require_auth(Role.admin)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ModerationFlagPageSchema)
    def get(self, args):
        """Content moderation refused, newest first, for review."""
        with get_db().read() as session:
            items, cursor = page(session, select(ModerationFlag), ModerationFlag, args["limit"], args["cursor"])
        return {"items": items, "next_cursor": cursor}
