"""Helpers for the export tests: submit an export over HTTP and wait for it."""

from __future__ import annotations


def export(client, headers, kind, fmt="csv", status=200, **filters) -> dict:
    """Submit an export and wait for it; its view."""
    answer = client.post("/api/v1/exports", json={"kind": kind, "format": fmt, "filters": filters},
                         headers={**headers, "Prefer": "wait=30"})
    assert answer.status_code == status, answer.json
    if status == 200:
        assert answer.json["status"] == "ready", answer.json
        assert answer.headers["Location"].endswith(f"/api/v1/exports/{answer.json['id']}")
    return answer.json
