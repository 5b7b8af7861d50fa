"""Development secrets: generated once per install into `var/secrets.json`, never constants in the code.

Only a development start (`make run`) reads them; every other start needs its secrets in the environment.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

FILE_NAME = "secrets.json"


def _generate() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PAYMENT_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "METRICS_TOKEN": secrets.token_urlsafe(32),
        "FLOWER_BASIC_AUTH": f"admin:{secrets.token_urlsafe(18)}",
    }


def _read(path: Path) -> dict[str, str] | None:
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return values if isinstance(values, dict) and set(_generate()) <= set(values) else None


def development_secrets(var_dir: Path) -> dict[str, str]:
    """This install's development secrets, created on first use (readable by its owner only).

    Several processes start at once under `make run`: the first creates the file (O_EXCL), the
    others wait for its content."""
    path = var_dir / FILE_NAME
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            values = _read(path)
            if values is not None:
                return values
            time.sleep(0.1)
        raise RuntimeError(f"{path} is unreadable or incomplete; delete it to generate new development secrets")
    values = _generate()
    with os.fdopen(fd, "w") as out:
        json.dump(values, out, indent=2)
    return values
