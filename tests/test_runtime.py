"""`hub.runtime`: the collector's thresholds and the start-up freeze."""

from __future__ import annotations

import gc

import pytest

from hub.runtime import THRESHOLDS, collect_less, freeze_startup


@pytest.fixture
def restored_gc():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_collect_less_raises_the_thresholds(restored_gc):
    gc.set_threshold(700, 10, 10)
    collect_less()
    assert gc.get_threshold() == THRESHOLDS
    assert THRESHOLDS[0] > 700  # fewer collections than CPython's default, not more


def test_freeze_startup_keeps_live_objects_out_of_collections(restored_gc):
    kept = [[i] for i in range(1000)]  # lists: always tracked by the collector
    frozen = gc.get_freeze_count()
    freeze_startup()
    assert gc.get_freeze_count() >= frozen + len(kept)
