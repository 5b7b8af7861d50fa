"""`python -m worker <line> [celery worker options]`: run one of the worker lines of worker/routes.py.

The Procfile and docker-compose.yml start workers this way, so the queues, pool and concurrency
of each line are written once.
"""

from __future__ import annotations

import os
import sys

from config import load_settings_or_exit
from worker.routes import WORKER_LINES


def command(line_name: str, extra: list[str]) -> list[str]:
    line = WORKER_LINES[line_name]
    return [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-n", f"{line_name}@%h", "-Q", ",".join(line.queues),
            "-P", line.pool, "-c", str(line.concurrency(load_settings_or_exit())),
            "--without-gossip", "--without-mingle", *extra]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in WORKER_LINES:
        lines = "\n".join(f"  {name:<12} {line.doc}: {', '.join(line.queues)}" for name, line in WORKER_LINES.items())
        sys.exit(f"usage: python -m worker <line> [celery worker options]\n\nlines:\n{lines}")
    argv = command(sys.argv[1], sys.argv[2:])
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
