"""RocksDB (rocksdict) options for the local stores whose memory must stay bounded
whatever they hold: the connectors' seen-ids store and the SIECLE scratch tables.

Index and filter blocks live in a bounded block cache, cut into 4 KiB partitions (only
their top level pinned). Left to RocksDB's default, every table file keeps its whole
index and filter in memory outside any cache, which grows with the data (measured with
3M pupils: 185 → 110 MB peak for a re-ingest's scratch tables, ≈ 6 % slower); whole,
uncut blocks in a bounded cache were many times slower. The WAL is off: these stores
are rebuilt from Kafka, or thrown away, after a crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def open_bounded(path: Path, *, cache_bytes: int, write_buffer_bytes: int) -> Any:
    """A raw-mode Rdict at `path` (created if missing) whose memory is about
    `cache_bytes` + 2 × `write_buffer_bytes`, without a write-ahead log."""
    from rocksdict import BlockBasedIndexType, BlockBasedOptions, Cache, Options, Rdict, WriteOptions

    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(write_buffer_bytes)
    options.set_max_write_buffer_number(2)
    table = BlockBasedOptions()
    table.set_bloom_filter(10, False)
    table.set_block_cache(Cache(cache_bytes))
    table.set_index_type(BlockBasedIndexType.two_level_index_search())
    table.set_partition_filters(True)
    table.set_metadata_block_size(4096)
    table.set_cache_index_and_filter_blocks(True)
    table.set_pin_top_level_index_and_filter(True)
    table.set_pin_l0_filter_and_index_blocks_in_cache(True)
    options.set_block_based_table_factory(table)
    db = Rdict(str(path), options)
    write = WriteOptions()
    write.disable_wal = True
    db.set_write_options(write)
    return db
