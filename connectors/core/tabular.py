"""Connectors whose records are independent of each other: CSV and JSON Lines sources.

A source package only declares its columns and its `validate(row, ctx, ref=...)`
function; reading, accounting and publishing are shared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hub.types.events import SOURCE_TOPICS

from connectors.core.csv import CsvFile
from connectors.core.jsonl import JsonLinesFile
from connectors.core.types import (
    Batch,
    Connector,
    Context,
    Item,
    Mapped,
    Progress,
    RawRecord,
    Rejected,
    SnapshotStore,
)

ValidateFn = Callable[..., Mapped | Rejected]


class _FileBatch(Batch):
    def __init__(self, reader: CsvFile | JsonLinesFile, validate: ValidateFn, ctx: Context) -> None:
        self.reader = reader
        self._validate = validate
        self._ctx = ctx

    @property
    def bytes_done(self) -> int:  # type: ignore[override]
        return self.reader.bytes_done

    def prepare(self, progress: Progress | None = None) -> None:
        self.reader.open()
        self.bytes_total = self.reader.size

    async def items(self) -> AsyncIterator[Item]:
        for record in self.reader.records():
            yield record

    def records(self, skip: Callable[[int], bool] | None = None) -> Iterator[RawRecord | None]:
        return self.reader.records(skip)

    def reopen(self) -> _FileBatch:
        """The same batch reading through its own file handle (a worker process's)."""
        return _FileBatch(self.reader.reopen(), self._validate, self._ctx)

    def map(self, record: RawRecord) -> Mapped | Rejected:
        assert record.row is not None
        return self._validate(record.row, self._ctx, ref=record.ref)

    def close(self) -> None:
        self.reader.close()


class CsvConnector(Connector):
    """A `;` CSV source: `columns` of inputs.md, `required` refuse the file when absent."""

    def __init__(self, source: str, columns: Sequence[str], required: Sequence[str], validate: ValidateFn, *, needs_directory: bool = False) -> None:
        self.source = source
        self.topic = SOURCE_TOPICS[source]
        self.columns = tuple(columns)
        self.required_columns = tuple(required)
        self._validate = validate
        self.needs_directory = needs_directory

    def open(self, path: Path, ctx: Context, snapshots: SnapshotStore | None = None) -> Batch:
        return _FileBatch(CsvFile(path, self.columns, self.required_columns), self._validate, ctx)

    def validate(self, row: Mapping[str, Any], ctx: Context, *, ref: str = "api") -> Mapped | Rejected:
        return self._validate(row, ctx, ref=ref)


class JsonLinesConnector(Connector):
    """A JSON Lines source: one object per line, validated by `validate`."""

    def __init__(self, source: str, validate: ValidateFn, *, needs_directory: bool = False) -> None:
        self.source = source
        self.topic = SOURCE_TOPICS[source]
        self._validate = validate
        self.needs_directory = needs_directory

    def open(self, path: Path, ctx: Context, snapshots: SnapshotStore | None = None) -> Batch:
        return _FileBatch(JsonLinesFile(path), self._validate, ctx)

    def validate(self, row: Mapping[str, Any], ctx: Context, *, ref: str = "api") -> Mapped | Rejected:
        return self._validate(row, ctx, ref=ref)
