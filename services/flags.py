"""Feature flags: read one (off when never set), set one (admins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import FeatureFlag
from models.base import utcnow
from services.errors import NotFound

MAINTENANCE_MODE = "maintenance_mode"
KNOWN_FLAGS = frozenset({MAINTENANCE_MODE})


@dataclass(frozen=True)
class FlagState:
    """A flag as it was read: safe to keep after its session is gone (the web caches these)."""

    name: str
    enabled: bool = False
    message: str = ""
    updated_at: datetime | None = None
    updated_by: int | None = None


def get_flag(session: Session, name: str) -> FlagState:
    _check_known(name)
    return _state(session.get(FeatureFlag, name)) or FlagState(name)


def set_flag(session: Session, name: str, enabled: bool, message: str, updated_by: int) -> FlagState:
    _check_known(name)
    values = {"enabled": enabled, "message": message, "updated_by": updated_by, "updated_at": utcnow()}
    flag = session.get(FeatureFlag, name, with_for_update=True)
    if flag is None:
        try:
            with session.begin_nested():
                flag = FeatureFlag(name=name, **values)
                session.add(flag)
            return _state(flag)
        except IntegrityError:  # another admin set it first: theirs is the row to update
            flag = session.get(FeatureFlag, name, with_for_update=True, populate_existing=True)
    for field, value in values.items():
        setattr(flag, field, value)
    session.flush()
    return _state(flag)


def _check_known(name: str) -> None:
    if name not in KNOWN_FLAGS:
        raise NotFound("no such flag", code="unknown_flag", details={"known": sorted(KNOWN_FLAGS)})


def _state(flag: FeatureFlag | None) -> FlagState | None:
    if flag is None:
        return None
    return FlagState(flag.name, flag.enabled, flag.message, flag.updated_at, flag.updated_by)
