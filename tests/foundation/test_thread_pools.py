"""orderrail/thread_pools.py: every thread exists from the start, so a peak later adds none."""

from __future__ import annotations

import threading

from orderrail.thread_pools import full_pool


def _threads(name: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(f"{name}_"))


def test_a_full_pool_starts_all_its_threads_and_a_later_peak_adds_none():
    pool = full_pool(6, "full-pool-test")
    try:
        assert _threads("full-pool-test") == 6
        peak = threading.Barrier(6)
        assert sorted(pool.map(lambda i: (peak.wait(), i)[1], range(6))) == list(range(6))
        assert _threads("full-pool-test") == 6
    finally:
        pool.shutdown(wait=True)
    assert _threads("full-pool-test") == 0
