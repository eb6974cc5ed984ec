"""hub.rocks: the bounded local stores keep what they are given, across a reopen."""

from __future__ import annotations

from hub.rocks import open_bounded


def test_a_bounded_store_reads_back_after_a_reopen(tmp_path):
    db = open_bounded(tmp_path / "db", cache_bytes=1 << 20, write_buffer_bytes=1 << 20)
    for i in range(20_000):  # several table files: the partitioned index and filter are read
        db[i.to_bytes(4, "big")] = b"v%d" % i
    db.flush()
    db.close()
    db = open_bounded(tmp_path / "db", cache_bytes=1 << 20, write_buffer_bytes=1 << 20)
    try:
        assert db[(12_345).to_bytes(4, "big")] == b"v12345"
        assert db.get((20_000).to_bytes(4, "big")) is None
        assert sum(1 for _ in db.keys()) == 20_000
    finally:
        db.close()
