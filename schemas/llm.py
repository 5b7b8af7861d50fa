"""Characters, chat sessions and messages, moderation flags; and the gateway's OpenAI-shaped request."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import EXCLUDE, Schema, fields, validate

from models import MessageRole
from schemas.common import BoundedInt, Int32Id, Text, page_schema
from schemas.sales import FixedDecimal

MAX_TOKENS = 32_768  # a call's `max_tokens` at most (the model's window may allow less)
MAX_CONTENT = 100_000  # characters in one message


def _strip(text: str) -> str:
    return text.strip()


class CharacterSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(100, min_length=1, normalise=_strip, required=True)
    system_prompt = Text(20_000, required=True)
    default_model = Text(100, min_length=1, required=True)
    temperature = FixedDecimal(2, Decimal(2), "0.70", load_default=Decimal("0.7"))
    active = fields.Boolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)


class CharacterUpdateSchema(CharacterSchema):
    """Any of a character's fields: those absent stay as they are."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


CharacterListSchema = Schema.from_dict({"items": fields.List(fields.Nested(CharacterSchema))}, name="Characters")


class ChatSessionSchema(Schema):
    id = fields.Integer(dump_only=True)
    character_id = Int32Id(load_default=None, allow_none=True)
    model = Text(100, min_length=1, load_default=None,
                 metadata={"description": "defaults to the character's default model"})
    title = Text(200, normalise=_strip, load_default="New chat")
    created_at = fields.DateTime(dump_only=True)


class RenameSchema(Schema):
    title = Text(200, min_length=1, normalise=_strip, required=True)


class NewMessageSchema(Schema):
    content = Text(MAX_CONTENT, min_length=1, required=True)
    max_tokens = BoundedInt(1, MAX_TOKENS, load_default=None)


class ChatMessageSchema(Schema):
    id = fields.Integer()
    session_id = fields.Integer()
    role = fields.Enum(MessageRole, by_value=True)
    content = fields.String()
    job_id = fields.UUID(allow_none=True)
    flagged = fields.Boolean()
    model = fields.String(allow_none=True)
    provider = fields.String(allow_none=True)
    prompt_tokens = fields.Integer(allow_none=True)
    completion_tokens = fields.Integer(allow_none=True)
    cost_credits = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class ModerationFlagSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    job_id = fields.UUID()
    message_id = fields.Integer(allow_none=True)
    content = fields.String()
    reasons = fields.Function(lambda flag: flag.reasons.get("reasons", []))
    created_at = fields.DateTime()


ChatSessionPageSchema = page_schema(ChatSessionSchema, "ChatSessionPage")
ChatMessagePageSchema = page_schema(ChatMessageSchema, "ChatMessagePage")
ModerationFlagPageSchema = page_schema(ModerationFlagSchema, "ModerationFlagPage")


class OpenAIMessageSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # name, tool calls, ...: not ours to refuse

    role = fields.String(required=True, validate=validate.OneOf(["system", "developer", "user", "assistant"]))
    content = Text(MAX_CONTENT, required=True)


class OpenAIChatRequestSchema(Schema):
    """The part of OpenAI's chat completions request the gateway honours; other fields are ignored."""

    class Meta:
        unknown = EXCLUDE

    model = Text(100, min_length=1, required=True)
    messages = fields.List(fields.Nested(OpenAIMessageSchema), required=True, validate=validate.Length(1, 1000))
    max_tokens = BoundedInt(1, MAX_TOKENS, load_default=None, allow_none=True)
    max_completion_tokens = BoundedInt(1, MAX_TOKENS, load_default=None, allow_none=True)
    temperature = fields.Float(load_default=None, allow_none=True, validate=validate.Range(0, 2))
    stream = fields.Boolean(load_default=False)
    stream_options = fields.Dict(load_default=None, allow_none=True)


class OpenAIErrorBodySchema(Schema):
    message = fields.String(required=True)
    type = fields.String(required=True)
    param = fields.String(allow_none=True)
    code = fields.String(allow_none=True)


class OpenAIErrorSchema(Schema):
    """OpenAI's error body, which the SDKs read."""

    error = fields.Nested(OpenAIErrorBodySchema, required=True)


class OpenAIModelSchema(Schema):
    id = fields.String()
    object = fields.String()
    created = fields.Integer()
    owned_by = fields.String()


class OpenAIModelListSchema(Schema):
    object = fields.String()
    data = fields.List(fields.Nested(OpenAIModelSchema))


class OpenAICompletionSchema(Schema):
    """A `chat.completion`; with `stream: true`, `text/event-stream` chunks (`chat.completion.chunk`) instead."""

    id = fields.String()
    object = fields.String()
    created = fields.Integer()
    model = fields.String()
    provider = fields.String()
    choices = fields.List(fields.Dict())
    usage = fields.Dict()
