"""Characters, chat sessions and messages over HTTP: admins manage characters, a session is its owner's alone."""

from __future__ import annotations

from tests.support import make_user

CHARACTER = {"name": "Ada", "system_prompt": "You are Ada, a patient tutor.", "default_model": "fake-chat",
             "temperature": "0.30"}


def test_admins_manage_characters_and_users_see_the_active_ones(client, admin, auth):
    made = client.post("/api/v1/admin/characters", json=CHARACTER, headers=admin)
    assert made.status_code == 201 and made.json["temperature"] == "0.30"
    assert client.post("/api/v1/admin/characters", json=CHARACTER, headers=admin).status_code == 409
    assert client.post("/api/v1/admin/characters", json=CHARACTER, headers=auth).status_code == 403
    unknown = client.post("/api/v1/admin/characters", json={**CHARACTER, "name": "Bob", "default_model": "nope"},
                          headers=admin)
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "unknown_model"
    assert [c["name"] for c in client.get("/api/v1/characters", headers=auth).json["items"]] == ["Ada"]

    character_id = made.json["id"]
    patched = client.patch(f"/api/v1/admin/characters/{character_id}", json={"active": False}, headers=admin)
    assert patched.status_code == 200 and patched.json["active"] is False
    assert client.get("/api/v1/characters", headers=auth).json["items"] == []
    assert len(client.get("/api/v1/admin/characters", headers=admin).json["items"]) == 1
    assert client.delete(f"/api/v1/admin/characters/{character_id}", headers=admin).status_code == 204
    assert client.patch(f"/api/v1/admin/characters/{2**40}", json={"active": True}, headers=admin).status_code == 404


def test_sessions_are_their_owners_alone(app, client, admin, auth):
    character_id = client.post("/api/v1/admin/characters", json=CHARACTER, headers=admin).json["id"]
    made = client.post("/api/v1/chat/sessions", json={"character_id": character_id, "title": " Maths "}, headers=auth)
    assert made.status_code == 201
    assert (made.json["model"], made.json["title"]) == ("fake-chat", "Maths")  # the character's default model
    session_id = made.json["id"]
    assert client.patch(f"/api/v1/chat/sessions/{session_id}", json={"title": "Algebra"},
                        headers=auth).json["title"] == "Algebra"
    assert [s["id"] for s in client.get("/api/v1/chat/sessions", headers=auth).json["items"]] == [session_id]

    _, other = make_user(app)
    for method, path, body in (("get", "", None), ("patch", "", {"title": "mine"}), ("delete", "", None),
                               ("get", "/messages", None), ("post", "/messages", {"content": "hi"})):
        answer = getattr(client, method)(f"/api/v1/chat/sessions/{session_id}{path}", json=body, headers=other)
        assert answer.status_code == 404 and answer.json["error"]["code"] == "session_not_found", (method, path)
    assert client.get("/api/v1/chat/sessions", headers=other).json["items"] == []
    assert client.get(f"/api/v1/chat/sessions/{2**63}", headers=auth).status_code == 404

    assert client.delete(f"/api/v1/chat/sessions/{session_id}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/chat/sessions/{session_id}", headers=auth).status_code == 404


def test_messages_page_newest_first_with_their_jobs(client, auth):
    session_id = client.post("/api/v1/chat/sessions", json={"model": "fake-chat"}, headers=auth).json["id"]
    unknown = client.post("/api/v1/chat/sessions", json={"model": "no-such-model"}, headers=auth)
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "unknown_model"
    jobs = [client.post(f"/api/v1/chat/sessions/{session_id}/messages", json={"content": f"message {n}"},
                        headers=auth).json for n in range(3)]
    assert {(j["kind"], j["queue"], j["payload"]["max_tokens"]) for j in jobs} == {("llm.chat", "llm", 512)}
    first = client.get(f"/api/v1/chat/sessions/{session_id}/messages?limit=2", headers=auth).json
    rest = client.get(f"/api/v1/chat/sessions/{session_id}/messages?limit=2&cursor={first['next_cursor']}",
                      headers=auth).json
    contents = [m["content"] for m in first["items"] + rest["items"]]
    assert contents == ["message 2", "message 1", "message 0"] and rest["next_cursor"] is None
    assert [m["job_id"] for m in first["items"] + rest["items"]] == [j["id"] for j in reversed(jobs)]
    too_long = client.post(f"/api/v1/chat/sessions/{session_id}/messages", json={"content": "x", "max_tokens": 10**9},
                           headers=auth)
    assert too_long.status_code == 422
