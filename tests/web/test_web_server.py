"""The real web server (gunicorn, gevent worker): clients that wait or stream hold no thread, so the rest
of the API keeps answering, even with a thousand streams open."""

from __future__ import annotations

import selectors
import socket
import threading
import time

import pytest
import requests

from models import JobStatus
from services import jobs as job_service
from services.jobs import after_commit
from services.jobs.after_commit import LiveEvent
from tests.conftest import TEST_ENV
from tests.support import WebServer, first_pass_only, make_user, sse_events

# The web server under load: no database in what it tests (tests/support.py, first_pass_only).
pytestmark = first_pass_only


@pytest.fixture
def server():
    web = WebServer(TEST_ENV, workers=1)
    yield web
    web.stop()


def slowest(fn, times: int) -> float:
    worst = 0.0
    for _ in range(times):
        started = time.perf_counter()
        fn()
        worst = max(worst, time.perf_counter() - started)
    return worst


def test_waiting_clients_do_not_starve_the_web(app, server):
    """20 clients wait on jobs nobody runs (no worker here); reads, logins and submissions still answer."""
    _, auth = make_user(app)
    email = f"waiter-{time.monotonic_ns()}@example.com"
    assert requests.post(f"{server.url}/api/v1/auth/register",
                         json={"email": email, "password": "password123"}).status_code == 201
    waiting = [threading.Thread(target=requests.post, args=(f"{server.url}/api/v1/jobs/ping",),
                                kwargs={"json": {}, "headers": {**auth, "Prefer": "wait=4"}}) for _ in range(20)]
    for t in waiting:
        t.start()
    time.sleep(0.5)  # all 20 are waiting now
    try:
        read = slowest(lambda: requests.get(f"{server.url}/api/v1/jobs", headers=auth).raise_for_status(), 10)
        login = slowest(lambda: requests.post(f"{server.url}/api/v1/auth/login", json={
            "email": email, "password": "password123"}).raise_for_status(), 2)
        submit = slowest(lambda: requests.post(f"{server.url}/api/v1/jobs/ping", json={},
                                               headers=auth).raise_for_status(), 5)
        still_waiting = sum(t.is_alive() for t in waiting)
    finally:
        for t in waiting:
            t.join()
    assert still_waiting == 20
    assert max(read, login, submit) < 1.0, {"read": read, "login": login, "submit": submit}


class StreamClients:
    """Many SSE clients on raw sockets in one thread (HTTP/1.0: the server streams, then closes)."""

    def __init__(self, url: str, paths: list[str], headers: dict):
        host, port = url.removeprefix("http://").split(":")
        self.selector = selectors.DefaultSelector()
        self.received: dict[int, bytearray] = {}
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        for n, path in enumerate(paths):
            sock = socket.create_connection((host, int(port)))
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: test\r\n{head}\r\n".encode())
            sock.setblocking(False)
            self.received[n] = bytearray()
            self.selector.register(sock, selectors.EVENT_READ, n)

    def pump(self, seconds: float, until=lambda: False) -> int:
        """Read what arrives for `seconds` or until `until()`; the number of connections still open."""
        deadline = time.monotonic() + seconds
        while self.selector.get_map() and time.monotonic() < deadline and not until():
            for key, _ in self.selector.select(timeout=0.1):
                chunk = key.fileobj.recv(65536)
                if chunk:
                    self.received[key.data] += chunk
                else:
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()
        return len(self.selector.get_map())

    def events(self, n: int) -> list:
        text = self.received[n].decode()
        return sse_events(text.split("\r\n\r\n", 1)[-1].split("\n"))


def test_a_thousand_streams_each_see_every_event_while_the_api_answers(app, server):
    """1,000 clients watch 100 jobs; each job gets three progress events and ends: every client sees
    all of them, in order, while another client's request is answered."""
    runtime = app.extensions["conveyor"]
    user_id, auth = make_user(app)
    with runtime.db.Session.begin() as s:  # jobs that no worker runs: this test plays the worker
        jobs = [job_service.submit(s, kind="ping", owner_id=user_id, queue="default", payload={},
                                   max_attempts=3)[0].id for _ in range(100)]
        after_commit.take(s)
    clients = StreamClients(server.url, [f"/api/v1/jobs/{jobs[n % 100]}/stream" for n in range(1000)], auth)
    try:
        def all_watching():
            return all(b"event: snapshot" in clients.received[n] for n in range(1000))

        assert clients.pump(60, until=all_watching) == 1000 and all_watching()
        started = time.perf_counter()
        assert requests.get(f"{server.url}/api/v1/jobs", headers=auth, params={"limit": 5}).status_code == 200
        answered_in = time.perf_counter() - started
        for step in (1, 2, 3):
            runtime.events.publish([LiveEvent(j, "progress", {"done": step, "total": 3}) for j in jobs])
        with runtime.db.Session.begin() as s:
            for job_id in jobs:
                taken = job_service.claim(s, job_id, lease_seconds=30, time_limit=60, worker="test")
                job_service.finish(s, taken, JobStatus.succeeded, result={"ok": True})
        assert clients.pump(30) == 0  # every stream ended, and the server closed it
    finally:
        for key in list(clients.selector.get_map().values()):
            key.fileobj.close()
    for n in range(1000):
        names = [(name, data.get("done")) for _, name, data in clients.events(n)]
        assert [d for name, d in names if name == "progress"] == [1, 2, 3], n
        assert names[-1][0] == "end" and clients.events(n)[-1][2]["status"] == "succeeded", n
    assert answered_in < 1.0
