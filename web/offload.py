"""Slow CPU work (password hashing) off the gevent loop: in gevent's thread pool, whose size also
bounds how many run at once per process. argon2 releases the GIL, so those threads run in parallel;
outside gevent (tests, the CLI) the work simply runs in the calling thread."""

from __future__ import annotations

from typing import Callable, TypeVar

import gevent
from gevent import monkey

T = TypeVar("T")


def off_the_loop(fn: Callable[..., T], *args) -> T:
    if not monkey.is_module_patched("socket"):
        return fn(*args)
    return gevent.get_hub().threadpool.apply(fn, args)
