"""Flower's settings (`--conf=config/flower.py`): from the same validated environment as the rest."""

import os

from flower.views import monitor

from config import ROOT, load_settings_or_exit

_settings = load_settings_or_exit()
basic_auth = [_settings.flower_basic_auth]
port = int(os.environ.get("FLOWER_PORT", "5555"))
persistent = True
db = os.environ.get("FLOWER_DB", str(ROOT / "var" / "flower.db"))
state_save_interval = 60_000  # ms: persist the state every minute, not only at shutdown
max_tasks = int(os.environ.get("FLOWER_MAX_TASKS", "10000"))


def _require_basic_auth(handler) -> None:
    """Flower checks credentials only on its pages and API; its metrics name hosts and process ids."""
    handler.get_current_user()  # raises 401 without the right credentials


monitor.Metrics.prepare = _require_basic_auth
monitor.Healthcheck.prepare = _require_basic_auth
