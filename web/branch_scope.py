"""Which branches a caller may act in: admins in every one, anyone else only in their own."""

from __future__ import annotations

from models import Role
from web.auth import Forbidden, current_principal


def require_branch(branch_id: int) -> None:
    """403 `other_branch` unless the caller is an admin or belongs to `branch_id`."""
    principal = current_principal()
    if principal.role != Role.admin and principal.branch_id != branch_id:
        raise Forbidden("you may act only in your own branch", code="other_branch",
                        details={"branch_id": branch_id, "your_branch_id": principal.branch_id})


def branches_in_view(branch_id: int | None) -> list[int] | None:
    """The branches a list covers: an admin's choice (None: all), anyone else's own branch (403 elsewhere)."""
    principal = current_principal()
    if principal.role == Role.admin:
        return None if branch_id is None else [branch_id]
    branch_id = branch_id or principal.branch_id
    if branch_id is None:  # staff in no branch see no branch's rows
        return []
    require_branch(branch_id)
    return [branch_id]
