"""The case engine's Faust shell: `hub worker` (see app.py, core.py, run.py).

    core.py       processing logic, free of Faust (identity, evaluation, output diff)
    state.py      what the `persons` table keeps per key
    records.py    which topics hold which case record; jsonl printing
    messages.py   the internal topic's envelope
    directory.py  the in-memory directory following hub.directory.v1
    app.py        the Faust app and its agents
    tables.py     the engine's tables: RocksDB per partition, restored from their changelogs
    transport.py  Faust's aiokafka producer and consumer with the engine's fixes
    follow.py     a small compacted topic read from its start while the worker runs
    schemas.py    the Avro reader that learns new schema versions from hub.schemas.v1
    sequence.py   clock ticks and directory updates in the order they were written
    watchdog.py   the commit watchdog and the broker watch
    run.py        `hub worker [--until-idle]`
"""
