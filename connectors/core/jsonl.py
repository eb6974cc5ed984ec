"""Streaming JSON Lines reading (CTI reports).

One JSON object per line, UTF-8 (a BOM on the first line is tolerated). A line that is
not valid UTF-8, not valid JSON (`hub.validation.jsontext`: no NaN, no lone surrogate, no
absurd nesting), or not a JSON object is a record rejected `BAD_JSON`;
the file goes on. Blank lines are skipped (not records).

File-level InputError (exit 2, nothing published): an unreadable file, and a file that
is "not the declared format" (inputs.md): non-blank lines of which not one even begins
like a JSON object, with `{` (a CSV, a JSON array, an HTML error page). A report cut or
mistyped is a record (`BAD_JSON`), even alone in its file: a CTI file of one report is
common. Checked on opening, reading up to the first such line, usually line 1. An empty
file is JSON Lines with no record.

The raw text of a line that is not UTF-8 keeps its bytes as `\\xNN` escapes: what the
operator needs to see, and a text `hub dlq replay` still refuses (`\\x` is no JSON
escape), where replacement characters would have parsed into a garbled name.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from hub.errors import InputError
from hub.validation.jsontext import loads_strict

from connectors.core.csv import unreadable
from connectors.core.types import BAD_JSON, RawRecord, Rejection

_BOM = b"\xef\xbb\xbf"


class JsonLinesFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.size = 0
        self._f: io.BufferedReader | None = None

    @property
    def bytes_done(self) -> int:
        try:
            return self._f.tell() if self._f and not self._f.closed else self.size
        except (OSError, ValueError):
            return self.size

    def open(self) -> None:
        if self.path.is_dir():
            raise InputError(f"{self.path}: un fichier est attendu, pas un dossier")
        try:
            self.size = self.path.stat().st_size
            self._f = self.path.open("rb")
            self._check_format()
        except OSError as exc:
            raise unreadable(self.path, exc) from None

    def _check_format(self) -> None:
        assert self._f is not None
        blank = True
        for data in self._f:
            if not data.strip():
                continue
            blank = False
            if data.removeprefix(_BOM).lstrip().startswith(b"{"):
                break
        else:
            if not blank:
                self.close()
                raise InputError(f"{self.name}: pas un fichier JSON Lines (aucune ligne n'est un objet JSON)")
        self._f.seek(0)

    def reopen(self) -> JsonLinesFile:
        """An independent reader of the same file, from its start (see CsvFile.reopen)."""
        other = JsonLinesFile(self.path)
        other.open()
        return other

    def records(self, skip: Callable[[int], bool] | None = None) -> Iterator[RawRecord | None]:
        """The records, in file order; see CsvFile.records for `skip`."""
        assert self._f is not None, "open() first"
        name = self.name
        index = -1
        for line_no, data in enumerate(self._f, start=1):
            if line_no == 1 and data.startswith(_BOM):
                data = data[len(_BOM) :]
            if not data.strip():
                continue
            index += 1
            if skip is not None and skip(index):
                yield None
                continue
            position, ref = f"line {line_no}", f"{name}:{line_no}"
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raw = data.decode("utf-8", "backslashreplace").rstrip("\r\n")
                yield RawRecord(name, position, ref, raw, error=Rejection(BAD_JSON, "ligne non encodée en UTF-8"))
                continue
            raw = text.rstrip("\r\n")
            try:
                obj = loads_strict(raw)
            except json.JSONDecodeError as exc:
                # The column on the file's line: json's own "line 1" would contradict it.
                yield RawRecord(name, position, ref, raw,
                                error=Rejection(BAD_JSON, f"JSON invalide : {exc.msg} (colonne {exc.colno})"))
                continue
            except ValueError as exc:
                yield RawRecord(name, position, ref, raw, error=Rejection(BAD_JSON, f"JSON invalide : {exc}"))
                continue
            if not isinstance(obj, dict):
                yield RawRecord(name, position, ref, raw, error=Rejection(BAD_JSON, "un objet JSON est attendu"))
                continue
            yield RawRecord(name, position, ref, raw, row=obj)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
