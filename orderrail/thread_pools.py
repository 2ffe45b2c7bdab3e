"""Thread pools whose threads all exist from the start.

`ThreadPoolExecutor` starts a thread only when work arrives and no thread is idle, so a long-lived pool keeps
growing - and the process's memory with it (each thread's stack and allocator arena) - every time a rarer peak of
concurrent work comes along, for as long as the process lives (issue 11: the engine's RSS rose with its thread
count over 10,000 alerts). A pool that starts every thread up front costs its full memory once, at start-up, and
stays flat after."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

START_TIMEOUT_SECONDS = 30.0


def full_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A ThreadPoolExecutor with all `workers` threads already running (and idle) when it is returned."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    # Each task holds its thread until all have arrived, so no thread is idle when the next is submitted and the
    # pool starts a new one for every task; the caller is the last to arrive and releases them together. Bounded:
    # should a thread fail to start, the others are released (BrokenBarrierError) and the caller fails loudly
    # instead of every started thread waiting for ever.
    everyone = threading.Barrier(workers + 1, timeout=START_TIMEOUT_SECONDS)
    for _ in range(workers):
        pool.submit(everyone.wait)
    everyone.wait()
    return pool
