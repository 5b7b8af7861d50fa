"""Password hashing off the gevent loop: in gevent's thread pool (argon2 releases the GIL, so those
threads run in parallel), at most HASH_CONCURRENCY at once per process, so that a burst of logins
costs waiting, not memory (each hash holds 19 MiB while it runs). Outside gevent (tests, the CLI)
the work runs in the calling thread, bounded the same way."""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

import gevent
from gevent import monkey
from gevent.lock import BoundedSemaphore

from worker.runtime import get_settings

T = TypeVar("T")

_slots: dict[tuple[bool, int], object] = {}
_slots_lock = threading.Lock()


def _slots_for(size: int, in_gevent: bool):
    """One semaphore per process (and kind of concurrency), made on first use."""
    with _slots_lock:
        key = (in_gevent, size)
        if key not in _slots:
            _slots[key] = BoundedSemaphore(size) if in_gevent else threading.BoundedSemaphore(size)
        return _slots[key]


def off_the_loop(fn: Callable[..., T], *args) -> T:
    in_gevent = monkey.is_module_patched("socket")
    with _slots_for(get_settings().hash_concurrency, in_gevent):
        if not in_gevent:
            return fn(*args)
        return gevent.get_hub().threadpool.apply(fn, args)
