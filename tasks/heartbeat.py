"""One thread per worker process renews the leases of the jobs running in it.

A job's lease lives as long as its process does: if the process dies, renewals stop, the lease
runs out and the reaper (or a redelivered message) gives the job to another worker.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager


class Heartbeats:
    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict = {}  # job id -> JobContext
        self._thread: threading.Thread | None = None
        self._pid = None

    @contextmanager
    def tracking(self, ctx):
        self._ensure_thread(ctx.lease_seconds)
        with self._lock:
            self._running[ctx.claim.job_id] = ctx
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(ctx.claim.job_id, None)

    def _ensure_thread(self, lease_seconds: int) -> None:
        # After a fork the parent's thread does not exist in the child: start one per process.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._loop, args=(lease_seconds / 3,),
                                                name="conveyor-heartbeat", daemon=True)
                self._thread.start()

    def _loop(self, interval: float) -> None:
        stop = threading.Event()
        while not stop.wait(interval):
            with self._lock:
                running = list(self._running.values())
            for ctx in running:
                if not ctx.row_locked:
                    ctx.beat()


HEARTBEATS = Heartbeats()

