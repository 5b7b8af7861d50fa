"""Test helpers: users with tokens, waiting for jobs, worker processes, a breakable broker link."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from config import ROOT
from sqlalchemy import select

from models import FINISHED, Branch, Job, JobStatus, Period, Role, Tier
from services import auth as auth_service
from services import sessions
from services.billing.signatures import sign

_emails = itertools.count()
PASSWORD_HASH = auth_service.hash_password("password123")  # hashed once: argon2 is slow on purpose



# `make test` runs the suite twice, on PostgreSQL and then on SQLite (CONVEYOR_TEST_DB=sqlite). Tests
# of what no database changes (the broker, Redis, real processes' wiring, a browser) run in the first
# pass only; where PostgreSQL is absent, the one SQLite run keeps them.
first_pass_only = pytest.mark.skipif(os.environ.get("CONVEYOR_TEST_DB") == "sqlite",
                                     reason="no database in it: make test's PostgreSQL pass ran it")

def ensure_branch(session, branch_id: int | None) -> None:
    """Branch `branch_id` (made up by a test that only needs users in different branches) exists."""
    if branch_id is not None and session.get(Branch, branch_id) is None:
        session.add(Branch(id=branch_id, name=f"Branch {branch_id}", code=f"TEST-{branch_id}"))
        session.flush()


def ensure_tier(db, name: str) -> int:
    """The id of tier `name`, made (monthly, 1,000 credits) if missing: each test empties the seeded tiers."""
    with db.Session.begin() as session:
        tier = session.scalar(select(Tier).where(Tier.name == name))
        if tier is None:
            tier = Tier(name=name, credits_per_period=1000, period=Period.monthly)
            session.add(tier)
            session.flush()
        return tier.id


def make_user(app, role: Role = Role.customer, branch_id: int | None = None) -> tuple[int, dict]:
    """A user of `role` (in `branch_id`, made if missing) and the headers that authenticate as them
    (a session of theirs)."""
    settings, db = app.extensions["conveyor"].settings, app.extensions["conveyor"].db
    with db.Session.begin() as session:
        ensure_branch(session, branch_id)
        user = auth_service.create_user(session, f"user{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com",
                                        PASSWORD_HASH, role, branch_id)
        login_session, _ = sessions.start(session, user.id, settings.refresh_token_days)
    token = auth_service.issue_token(user, settings.secret_key, settings.jwt_lifetime_seconds,
                                     session_id=login_session.id)
    return user.id, {"Authorization": f"Bearer {token}"}


def register(client, email: str = "payer@example.com") -> tuple[int, dict]:
    """Sign up over HTTP (with the signup bonus); the user's id and the headers that authenticate as them."""
    answer = client.post("/api/v1/auth/register", json={"email": email, "password": "password123"})
    return answer.json["user"]["id"], {"Authorization": f"Bearer {answer.json['access_token']}"}


WEBHOOK = "/api/v1/billing/webhooks/payments"


def webhook(client, app, event: dict, *, at: float | None = None, secret: str | None = None):
    """Deliver a payment provider's event, signed as the provider would."""
    body = json.dumps(event).encode()
    secret = secret or app.extensions["conveyor"].settings.payment_webhook_secrets[0]
    header = sign(secret, body, int(at or time.time()))
    return client.post(WEBHOOK, data=body, headers={"Content-Type": "application/json", "Conveyor-Signature": header})


def load_job(app, job_id) -> Job:
    with app.extensions["conveyor"].db.Session.begin() as session:
        return session.get(Job, uuid.UUID(str(job_id)))


def wait_for_status(app, job_id, statuses=FINISHED, timeout: float = 30) -> Job:
    statuses = {JobStatus(s) for s in statuses}
    deadline = time.monotonic() + timeout
    while True:
        job = load_job(app, job_id)
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status.value} after {timeout}s")
        time.sleep(0.05)


def wait_for_progress(app, job_id, done: int, timeout: float = 60) -> None:
    """Until the job has reported `done` units of progress (a crash test's moment to kill its worker)."""
    deadline = time.monotonic() + timeout
    while (load_job(app, job_id).progress_done or 0) < done:
        assert time.monotonic() < deadline, f"job {job_id} made no progress to {done} in {timeout}s"
        time.sleep(0.02)


def requeue_after_lease(app) -> None:
    """After a kill -9: the tests' 3 s lease runs out and the reaper puts the one orphaned job back."""
    from tasks.beat import reap_leases

    time.sleep(3.5)
    with app.app_context():
        assert reap_leases()["requeued"] == 1


class ChildProcess:
    """A real process of the stack in its own process group, so that it can be killed with SIGKILL."""

    def __init__(self, argv: list[str], env: dict):
        self.proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
        self.stopping = False

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def ask_to_stop(self) -> None:
        """Begin a warm shutdown (SIGTERM to the leader, once), without waiting for it."""
        if self.proc.poll() is None and not self.stopping:
            self.proc.send_signal(signal.SIGTERM)
            self.stopping = True

    def stop(self) -> None:
        """A warm shutdown: the leader (Celery's main process, gunicorn's master) lets its children
        finish what they are doing; the whole group is killed only if that takes too long."""
        self.ask_to_stop()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill9()


def stop_all(processes: list[ChildProcess]) -> None:
    """Warm shutdowns side by side: every process is asked first, then each is waited for."""
    for process in processes:
        process.ask_to_stop()
    for process in processes:
        process.stop()


class WorkerProcess(ChildProcess):
    """A real `celery worker`, with the tests' own job kinds."""

    def __init__(self, env: dict, concurrency: int = 1, queues: str = "default,billing", pool: str = "prefork",
                 extra_env: dict | None = None):
        super().__init__(
            [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", queues, "-c", str(concurrency),
             "-P", pool, "-I", "tests.kinds", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
            {**env, **(extra_env or {})})


class TcpProxy:
    """A TCP link to a real server that a test can cut and restore, to play a broker outage."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        self.up = threading.Event()
        self.up.set()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        self.up.clear()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass
        self.conns.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ListeningProcess(ChildProcess):
    """A server process on a free port of its own, returned once it accepts connections."""

    def __init__(self, argv: list[str], env: dict, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        super().__init__(argv, env)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{argv[2]} did not start")
                time.sleep(0.1)


class WebServer(ListeningProcess):
    """The real web server: gunicorn with config/gunicorn.py (the gevent worker), on a free port."""

    def __init__(self, env: dict, workers: int = 1, **extra_env: str):
        port = free_port()
        super().__init__([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "web:create_app()"],
                         {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers),
                          **extra_env}, port)


class S3Server(ListeningProcess):
    """A real S3 protocol server: moto's server mode, on a free port."""

    def __init__(self):
        port = free_port()
        super().__init__([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], {}, port)


def sse_events(lines) -> list[tuple[str | None, str, dict]]:
    """(id, event, data) for each event in Server-Sent Events text lines; comments are skipped."""
    import json

    events, fields = [], {}
    for line in lines:
        line = line.decode() if isinstance(line, bytes) else line
        if line == "":
            if "event" in fields:
                events.append((fields.get("id"), fields["event"], json.loads(fields.get("data", "{}"))))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return events
