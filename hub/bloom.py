"""A Bloom filter in memory, in front of an on-disk table (RocksDB): most keys looked up
are new, and a miss is then answered without a read; a "maybe" is checked in the table.
Used by the seen-events store (hub/kafka/seen.py) and the SIECLE diff's scratch tables
(connectors/rectorat/state.py)."""

from __future__ import annotations


class Bloom:
    """Two bits per key (from Python's hash), ≥ 16 bits per expected key, the bit count a
    power of two between 2**min_log2 and 2**max_log2 (no upper bound when None)."""

    def __init__(self, expected: int, *, min_log2: int = 20, max_log2: int | None = None) -> None:
        log2 = max(min_log2, (16 * max(expected, 1)).bit_length())
        if max_log2 is not None:
            log2 = min(max_log2, log2)
        size = 1 << log2
        self.mask = size - 1
        self.bits = bytearray(size >> 3)

    def add(self, key: bytes) -> None:
        h = hash(key)
        p, q = h & self.mask, (h >> 32) & self.mask
        bits = self.bits
        bits[p >> 3] |= 1 << (p & 7)
        bits[q >> 3] |= 1 << (q & 7)

    def __contains__(self, key: bytes) -> bool:
        h = hash(key)
        p, q = h & self.mask, (h >> 32) & self.mask
        bits = self.bits
        return bool(bits[p >> 3] & (1 << (p & 7))) and bool(bits[q >> 3] & (1 << (q & 7)))
