"""The load's own schedule for the cyclic collector (collector.py)."""

from __future__ import annotations

import gc

from target_attentive.collector import Collector


def test_a_batch_counts_as_its_records() -> None:
    with Collector(every=10) as collector:
        collector.tick(4)
        collector.tick(4)
        assert collector.collections == 0
        collector.tick(4)  # 12 records: one collection, the count starts again
        assert collector.collections == 1
        for _ in range(9):
            collector.tick()
        assert collector.collections == 1
        collector.tick()
        assert collector.collections == 2


def test_paused_during_the_load_and_restored_after() -> None:
    was = gc.isenabled()
    gc.enable()
    try:
        with Collector(every=10):
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        if not was:
            gc.disable()
