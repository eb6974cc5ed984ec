"""`hub.worker.messages`: the worker's internal envelope, bundles included."""

from __future__ import annotations

from datetime import date

import pytest

from hub.worker import messages as m


def test_internal_messages_round_trip():
    assert m.parse(m.tick(date(2026, 3, 1))).clock == date(2026, 3, 1)
    assert m.parse(m.directory(42, "sha256:ab")).directory == (42, "sha256:ab")
    assert m.parse(m.register("123456789AB")).text == "123456789AB"
    assert m.parse(m.retract("e-1", "n-2")).kind == m.RETRACT
    assert m.parse(m.retract("e-1", "n-2")).retracted == ("e-1", "n-2")
    assert m.parse(b"Re-1").retracted == ("e-1", None)  # written before RETRACTs named their name key
    with pytest.raises(m.BadMessage):
        m.parse(b"Zpayload")
    with pytest.raises(m.BadMessage):
        m.parse(b"")


def test_a_bundle_gives_back_its_entries_in_order():
    entries = [
        (b"nd-1", m.register("123456789AB")),
        (b"123456789AB", m.assign(b"\xc3\x01avro\x00bytes")),
        (b"nd-1", m.register("223456789AB")),
        (b"", m.route(b"")),  # empty key and payload survive too
        (b"123456789AB", m.retract("e-1", "n-1")),
    ]
    msg = m.parse(m.bundle(entries))
    assert msg.kind == m.BUNDLE
    assert [(k, v.kind + v.payload) for k, v in m.unbundle(msg.payload)] == entries


def test_an_empty_bundle_has_no_entries():
    assert list(m.unbundle(m.parse(m.bundle([])).payload)) == []


@pytest.mark.parametrize("cut", [1, 3, 5, 9, 12])
def test_a_truncated_bundle_is_refused_whole(cut):
    payload = m.parse(m.bundle([(b"a", m.register("1")), (b"bb", m.retract("e-2", "n-1"))])).payload
    with pytest.raises(m.BadMessage):
        list(m.unbundle(payload[:-cut]))


@pytest.mark.parametrize("inner", [m.tick(date(2026, 3, 1)), m.directory(1, "v"), m.bundle([]), b"Zx", b""])
def test_a_bundle_carries_only_messages_to_a_person_key(inner):
    with pytest.raises(m.BadMessage):
        list(m.unbundle(m.parse(m.bundle([(b"k", m.register("1")), (b"k", inner)])).payload))
