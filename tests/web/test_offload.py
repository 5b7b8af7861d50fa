"""Password hashing runs at most HASH_CONCURRENCY at once per process."""

from __future__ import annotations

import threading
import time

from web.offload import off_the_loop


def test_hashing_is_bounded_per_process(app):
    limit = app.extensions["conveyor"].settings.hash_concurrency
    running, peak, lock = 0, 0, threading.Lock()

    def slow_hash():
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    def login():
        with app.app_context():
            off_the_loop(slow_hash)

    threads = [threading.Thread(target=login) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert limit == 2 and peak == limit
