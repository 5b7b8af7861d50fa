"""Usage analytics over HTTP, read from the rollups: your own usage, admins' analytics, CSV, ranges, metrics."""

from __future__ import annotations

import csv
import io

import pytest

from models.usage import MEASURES
from services.usage import rollup
from tests.usage_support import D1, D2, usage_of_two_users

USAGE, ANALYTICS = "/api/v1/usage", "/api/v1/admin/analytics/usage"
RANGE = {"from": str(D1), "to": str(D2)}


@pytest.fixture
def rolled_up(app, db):
    people = usage_of_two_users(app, db)
    with db.Session.begin() as session:
        for day in (D1, D2):
            rollup.recompute_day(session, day)
    return people


def items(client, path, headers, **query) -> list[dict]:
    answer = client.get(path, query_string={**RANGE, **query}, headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json["items"]


def spent(rows: list[dict], key: str) -> dict:
    return {row[key]: row["credits_spent"] for row in rows}


def test_users_see_their_own_usage_by_day_and_by_model(client, rolled_up):
    a, b = rolled_up["a_auth"], rolled_up["b_auth"]
    by_day = items(client, USAGE, a, group_by="day")
    assert spent(by_day, "day") == {str(D1): 50, str(D2): 20}
    assert (by_day[0]["calls"], by_day[0]["errors"], by_day[0]["credits_captured"], by_day[0]["credits_refunded"]) == (
        2, 1, 25, 5)
    assert items(client, USAGE, a, group_by="model") == [
        {"model": "", **{m: by_day[0][m] + by_day[1][m] for m in MEASURES}}]
    assert spent(items(client, USAGE, b), "day") == {str(D1): 10}  # another user's usage is never in yours
    assert items(client, USAGE, a, **{"from": str(D2)}) == [by_day[1]]


def test_admins_see_everyones_usage_by_day_tier_user_and_model(client, admin, rolled_up):
    a, b = rolled_up["a"], rolled_up["b"]
    assert spent(items(client, ANALYTICS, admin, group_by="day"), "day") == {str(D1): 60, str(D2): 20}
    assert spent(items(client, ANALYTICS, admin, group_by="tier"), "tier") == {"basic": 10, "free": 70}
    assert spent(items(client, ANALYTICS, admin, group_by="user"), "user_id") == {a: 70, b: 10}
    assert spent(items(client, ANALYTICS, admin, group_by="model"), "model") == {"": 80}


@pytest.mark.parametrize("how", [{"query": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}])
def test_usage_exports_as_csv(client, admin, rolled_up, how):
    answer = client.get(ANALYTICS, query_string={**RANGE, "group_by": "tier", **how.get("query", {})},
                        headers={**admin, **how.get("headers", {})})
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(row["tier"], row["credits_spent"], row["calls"]) for row in table] == [("basic", "10", "0"),
                                                                                     ("free", "70", "2")]


def test_admin_analytics_are_for_admins_only(client, auth):
    assert client.get(ANALYTICS, query_string=RANGE, headers=auth).status_code == 403
    assert client.get(USAGE, query_string=RANGE).status_code == 401


@pytest.mark.parametrize("query, code", [
    ({"from": str(D2), "to": str(D1)}, "invalid_range"), ({"from": "2026-01-01", "to": "2027-12-31"}, "range_too_long"),
    ({"from": "2026-13-01"}, "validation_error"), ({"to": None}, "validation_error"),
    ({"group_by": "tier"}, "validation_error"), ({"format": "xml"}, "validation_error")])
def test_bad_ranges_and_groupings_are_422(client, auth, query, code):
    query = {k: v for k, v in {**RANGE, **query}.items() if v is not None}
    answer = client.get(USAGE, query_string=query, headers=auth)
    assert answer.status_code == 422 and answer.json["error"]["code"] == code, answer.json


def test_metrics_show_credits_spent_by_tier(client, metrics_auth, rolled_up):
    text = client.get("/metrics", headers=metrics_auth).get_data(as_text=True)
    assert 'conveyor_credits_spent_by_tier{tier="free"} 70.0' in text
    assert 'conveyor_credits_spent_by_tier{tier="basic"} 10.0' in text
