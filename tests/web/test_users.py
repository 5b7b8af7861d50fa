"""/api/v1/users as staff see it: admins everyone, managers their own branch (never admins), nobody else."""

from __future__ import annotations

from models import Role
from tests.support import make_user


def listed(client, headers) -> set[int]:
    answer = client.get("/api/v1/users", headers=headers, query_string={"limit": 200})
    assert answer.status_code == 200, answer.json
    return {user["id"] for user in answer.json["items"]}


def test_a_manager_lists_only_their_branchs_users_and_no_admins(app, client):
    manager_id, manager = make_user(app, Role.manager, branch_id=1)
    seller_id, _ = make_user(app, Role.seller, branch_id=1)
    customer_id, _ = make_user(app, Role.customer, branch_id=1)
    make_user(app, Role.admin, branch_id=1)
    other_id, _ = make_user(app, Role.customer, branch_id=2)
    unbranched_id, _ = make_user(app)
    admin_id, admin = make_user(app, Role.admin)
    assert listed(client, manager) == {manager_id, seller_id, customer_id}
    assert {other_id, unbranched_id, admin_id} <= listed(client, admin)
    _, branchless = make_user(app, Role.manager)
    assert listed(client, branchless) == set()
