"""Characters, users' chat sessions and their messages; a session is its owner's alone (others get 404)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Character, ChatMessage, ChatSession, MessageRole
from models.base import INT32_MAX, INT64_MAX
from services.errors import Conflict, InvalidInput, NotFound
from services.llm.providers import Catalogue
from services.pagination import page


def get_character(session: Session, character_id: int, *, active_only: bool = True) -> Character:
    character = session.get(Character, character_id) if 0 < character_id <= INT32_MAX else None
    if character is None or (active_only and not character.active):
        raise NotFound("no such character", code="character_not_found")
    return character


def characters(session: Session, *, active_only: bool) -> list[Character]:
    stmt = select(Character).order_by(Character.name)
    return list(session.scalars(stmt.where(Character.active) if active_only else stmt))


def get_session(session: Session, user_id: int, session_id: int) -> ChatSession:
    chat = session.get(ChatSession, session_id) if 0 < session_id <= INT64_MAX else None
    if chat is None or chat.user_id != user_id:
        raise NotFound("no such chat session", code="session_not_found")
    return chat


def sessions_of(session: Session, user_id: int, limit: int, cursor: str | None):
    return page(session, select(ChatSession).where(ChatSession.user_id == user_id), ChatSession, limit, cursor)


def messages_of(session: Session, user_id: int, session_id: int, limit: int, cursor: str | None):
    get_session(session, user_id, session_id)
    return page(session, select(ChatMessage).where(ChatMessage.session_id == session_id), ChatMessage, limit, cursor)


def add_user_message(session: Session, chat: ChatSession, content: str, job_id: uuid.UUID) -> ChatMessage:
    message = ChatMessage(session_id=chat.id, role=MessageRole.user, content=content, job_id=job_id)
    session.add(message)
    session.flush()
    return message


HISTORY_LIMIT = 200  # the most recent messages a context is cut from (a window holds fewer)


def history(session: Session, job_id: uuid.UUID) -> tuple[ChatSession, ChatMessage, list[ChatMessage], Character | None]:
    """For the job that answers a user's message: its session, that message, the earlier messages (oldest
    first, flagged ones left out) and the character. The same on every attempt: later messages never join."""
    message = session.scalar(select(ChatMessage).where(ChatMessage.job_id == job_id,
                                                       ChatMessage.role == MessageRole.user))
    if message is None:
        raise NotFound("the chat session or message was deleted", code="session_not_found")
    chat = session.get_one(ChatSession, message.session_id)
    newest = list(session.scalars(
        select(ChatMessage).where(ChatMessage.session_id == chat.id, ChatMessage.id < message.id,
                                  ChatMessage.flagged.is_(False)).order_by(ChatMessage.id.desc()).limit(HISTORY_LIMIT)))
    earlier = newest[::-1]
    character = session.get(Character, chat.character_id) if chat.character_id else None
    return chat, message, earlier, character


def require_free_name(session: Session, name: str) -> None:
    if session.scalar(select(Character.id).where(Character.name == name)) is not None:
        raise Conflict("a character of that name exists", code="character_name_taken")


def start_session(session: Session, user_id: int, character_id: int | None, model: str | None, title: str,
                  catalogue: Catalogue) -> ChatSession:
    character = get_character(session, character_id) if character_id is not None else None
    model = model or (character.default_model if character else None)
    if model is None:
        raise InvalidInput("name a model or a character", code="model_required")
    catalogue.chain(model)
    chat = ChatSession(user_id=user_id, character_id=character_id, model=model, title=title)
    session.add(chat)
    session.flush()
    return chat
