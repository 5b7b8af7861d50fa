"""Health, readiness, metrics, the OpenAPI document, request ids."""

from __future__ import annotations

import pytest


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_when_everything_answers(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json["checks"] == {"database": "ok", "broker": "ok", "redis": "ok"}


def test_readyz_says_fail_and_nothing_more_when_a_dependency_is_away(make_app):
    answer = make_app(BROKER_URL="redis://127.0.0.1:1/0", REDIS_URL="redis://127.0.0.1:1/0").test_client().get("/readyz")
    assert answer.status_code == 503
    error = answer.json["error"]
    assert error["code"] == "not_ready" and "broker" in error["message"]
    # No exception text: it would name hosts, ports and libraries.
    assert error["details"] == {"database": "ok", "broker": "fail", "redis": "fail"}


def test_metrics_count_submissions_and_show_queue_depth(client, auth, metrics_auth):
    before = client.get("/metrics", headers=metrics_auth).get_data(as_text=True)
    assert client.post("/api/v1/jobs/ping", json={}, headers=auth).status_code == 202
    text = client.get("/metrics", headers=metrics_auth).get_data(as_text=True)
    assert _sample(text, 'conveyor_jobs_submitted_total{kind="ping"}') == _sample(
        before, 'conveyor_jobs_submitted_total{kind="ping"}') + 1
    assert _sample(text, 'conveyor_queue_depth{queue="default"}') == 1
    assert _sample(text, 'conveyor_jobs{kind="ping",status="queued"}') == 1


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_openapi_document_and_docs_page(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/jobs/ping", "/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/cancel", "/api/v1/auth/login"):
        assert path in spec["paths"], path
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert client.get("/api/docs").status_code == 200


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/api/openapi.json"])
def test_public_endpoints_need_no_token(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Bearer ", "Basic dGVzdA==", "Bearer \u00e9t\u00e9"])
def test_metrics_need_the_metrics_token(client, auth, header):
    answer = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthorized"
    # A user's access token is not the metrics token either.
    assert client.get("/metrics", headers=auth).status_code == 401
