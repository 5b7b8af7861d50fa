"""Which branches a caller may act in: admins in every one, anyone else only in their own."""

from __future__ import annotations

from models import Role, User
from web.auth import Forbidden, current_principal
from worker.runtime import get_db


def require_branch(branch_id: int) -> None:
    """403 `other_branch` unless the caller is an admin or belongs to `branch_id`."""
    principal = current_principal()
    if principal.role == Role.admin:
        return
    with get_db().read() as session:
        own = session.get(User, principal.user_id)
        own_branch = own.branch_id if own is not None else None
    if own_branch != branch_id:
        raise Forbidden("you may act only in your own branch", code="other_branch",
                        details={"branch_id": branch_id, "your_branch_id": own_branch})
