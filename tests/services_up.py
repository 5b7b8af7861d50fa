"""Which real services answer here: `python -m tests.services_up postgres` exits 0 when PostgreSQL does."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlparse

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port), timeout=1).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    target = {"postgres": POSTGRES_URL, "redis": REDIS_URL}[sys.argv[1]]
    sys.exit(0 if answers(target) else 1)
