"""What a request's token is worth now (its user's version, role, branch, deletion; its session's
revocation; an API key's owner and revocation), cached in Redis for a few seconds so that a request
costs one round trip (two for an API key), not a query.

Changes write the new state into the cache after their commit (not a delete): a reader that read
the database before that commit stores what it read only if the key is absent (`SET NX`), so it
cannot put the old state back."""

from __future__ import annotations

import logging
import uuid

from redis import RedisError

from models import ApiKey, Role, User
from services import api_keys, sessions
from services.api_keys import KeyRef
from services.sessions import UserState
from worker.runtime import get_db, get_runtime

log = logging.getLogger(__name__)

TTL_SECONDS = 30
GONE, REVOKED = "gone", "revoked"


def _user_key(user_id: int) -> str:
    return f"conveyor:identity:user:{user_id}"


def _session_key(session_id: uuid.UUID) -> str:
    return f"conveyor:identity:session:{session_id}"


def _api_key_key(key_hash: str) -> str:
    return f"conveyor:identity:api-key:{key_hash}"


def _key_used_key(key_id: int) -> str:
    return f"conveyor:identity:api-key-used:{key_id}"


def _encode_key(ref: KeyRef) -> str:
    return f"{ref.key_id}|{ref.user_id}|{int(ref.revoked)}"


def _decode_key(value: str) -> KeyRef:
    key_id, user_id, revoked = value.split("|")
    return KeyRef(int(key_id), int(user_id), revoked == "1")


def _encode_user(state: UserState | None) -> str:
    if state is None:
        return GONE
    return f"{state.token_version}|{state.role.value}|{state.branch_id or ''}|{int(state.deleted)}"


def _decode_user(value: str) -> UserState | None:
    if value == GONE:
        return None
    version, role, branch, deleted = value.split("|")
    return UserState(int(version), Role(role), int(branch) if branch else None, deleted == "1")


def lookup(user_id: int, session_id: uuid.UUID) -> tuple[UserState | None, bool]:
    """(the user's state, None if there is no such user; whether the session is the user's and live)."""
    redis = get_runtime().redis
    keys = [_user_key(user_id), _session_key(session_id)]
    try:
        cached_user, cached_session = redis.mget(keys)
    except RedisError:
        log.warning("identity cache unavailable; reading the database", exc_info=True)
        cached_user = cached_session = None
    if cached_user is not None and cached_session is not None:
        return _decode_user(cached_user), cached_session == str(user_id)
    with get_db().read() as session:
        state = sessions.user_state(session, user_id)
        live = sessions.session_live(session, session_id, user_id)
    _store({keys[0]: _encode_user(state), keys[1]: str(user_id) if live else REVOKED}, only_if_absent=True)
    return state, live


def lookup_api_key(key_hash: str) -> tuple[KeyRef | None, UserState | None, bool]:
    """(the key with this digest, None if there is none; its user's state, None if there is no such
    user; whether this is the key's first use in api_keys.TOUCH_INTERVAL, to be recorded).

    Unknown digests are not cached: anyone can send them, and each would be an entry."""
    redis = get_runtime().redis
    try:
        cached = redis.get(_api_key_key(key_hash))
    except RedisError:
        log.warning("identity cache unavailable; reading the database", exc_info=True)
        cached = None
    if cached is not None:
        ref = _decode_key(cached)
    else:
        with get_db().read() as session:
            ref = api_keys.resolve(session, key_hash)
        if ref is None:
            return None, None, False
        _store({_api_key_key(key_hash): _encode_key(ref)}, only_if_absent=True)
    if ref.revoked:
        return ref, None, False
    try:
        with redis.pipeline(transaction=False) as pipe:
            pipe.get(_user_key(ref.user_id))
            pipe.set(_key_used_key(ref.key_id), "1", nx=True, ex=int(api_keys.TOUCH_INTERVAL.total_seconds()))
            cached_user, first_use = pipe.execute()
    except RedisError:
        log.warning("identity cache unavailable; reading the database", exc_info=True)
        cached_user, first_use = None, False
    if cached_user is not None:
        return ref, _decode_user(cached_user), bool(first_use)
    with get_db().read() as session:
        state = sessions.user_state(session, ref.user_id)
    _store({_user_key(ref.user_id): _encode_user(state)}, only_if_absent=True)
    return ref, state, bool(first_use)


def api_key_revoked(key: ApiKey) -> None:
    """After the commit that revoked the key."""
    _store({_api_key_key(key.key_hash): _encode_key(KeyRef(key.id, key.user_id, True))}, only_if_absent=False)


def user_changed(user: User) -> None:
    """After the commit that changed the user's version, role, branch or deletion."""
    state = UserState(user.token_version, user.role, user.branch_id, user.deleted_at is not None)
    _store({_user_key(user.id): _encode_user(state)}, only_if_absent=False)


def sessions_revoked(session_ids: list[uuid.UUID]) -> None:
    """After the commit that revoked these sessions."""
    _store({_session_key(sid): REVOKED for sid in session_ids}, only_if_absent=False)


def _store(values: dict[str, str], *, only_if_absent: bool) -> None:
    if not values:
        return
    try:
        with get_runtime().redis.pipeline(transaction=False) as pipe:
            for key, value in values.items():
                pipe.set(key, value, ex=TTL_SECONDS, nx=only_if_absent)
            pipe.execute()
    except RedisError:
        # Readers then see the database within TTL_SECONDS at worst (an entry cached before Redis went away).
        log.warning("identity cache unavailable; entries expire within %ss", TTL_SECONDS, exc_info=True)
