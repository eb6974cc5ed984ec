"""Streaming CSV reading per inputs.md.

- separator `;`, a header row is required, column order is free, header names are
  case-insensitive (and trimmed), unknown extra columns are ignored;
- UTF-8 with or without BOM; a file that is not valid UTF-8 is read as Windows-1252.
  The choice is made by a strict incremental UTF-8 decode of the whole file in 1 MiB
  chunks (cheap, constant memory) before the file is reopened for reading. Windows-1252
  leaves five bytes undefined (81 8D 8F 90 9D); like the WHATWG decoder, they map to
  the C1 control of the same value instead of failing the file;
- double-quoted fields as RFC 4180 writes them (`"Dupont; fils"`, `""` for a quote), a
  quoted field spanning lines included (a comment column with line breaks, in an export
  with more columns than the source reads): a record is one physical line, unless a
  line leaves a field open that a following line (within `MAX_SPAN` lines) closes the
  way RFC 4180 does — the quote right before a `;` or the line end — into a record of
  no more fields than the header. Anything else is the line alone, as before: a stray
  quote (`"Dupont` never closed, `O"Brien`) still costs that line only, never the
  lines after it (a black-box audit found a comment spanning lines split into made-up
  records);
- a line with fewer fields than the header reads its missing trailing fields as empty
  (exports leave off the `;` of empty last columns: `…;01/09/2025` for an empty
  `cause_rupture`); the source's checks then judge them (MISSING_FIELD when required);
- a line with more fields than the header is rejected `BAD_VALUE` (trailing extra fields
  that are all empty are tolerated: spreadsheets add them);
- blank lines and lines whose fields are all empty are skipped: not records, not counted;
- missing required columns, an empty file, a duplicated column, an unreadable file →
  InputError (one line), raised by `open()` before any record is read.
"""

from __future__ import annotations

import codecs
import copy
import csv
import io
import operator
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from hub.errors import InputError
from hub.validation import BAD_VALUE

from connectors.core.types import RawRecord, Rejection

SEPARATOR = ";"
_CHUNK = 1 << 20
UTF8 = "utf-8-sig"
CP1252 = "cp1252"
_C1_ERRORS = "hub-connectors-c1"


def _c1_handler(exc: UnicodeError) -> tuple[str, int]:
    if isinstance(exc, UnicodeDecodeError):
        return "".join(chr(b) for b in exc.object[exc.start : exc.end]), exc.end
    raise exc


codecs.register_error(_C1_ERRORS, _c1_handler)


def unreadable(path: Path, exc: OSError) -> InputError:
    return InputError(f"{path}: fichier illisible ({exc.strerror or exc})")


def detect_encoding(path: Path) -> str:
    """"utf-8-sig" when the whole file is valid UTF-8 (BOM or not), else "cp1252"."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return CP1252
    except OSError as exc:
        raise unreadable(path, exc) from None
    return UTF8


MAX_SPAN = 20  # physical lines one quoted record may span
_MAX_RECORD = 100_000  # characters of such a record


def _spanning(first: str, more: Callable[[], str | None], width: int) -> tuple[list[str] | None, int, list[str]]:
    """A record whose first line `first` (newline removed) leaves a quoted field open:
    (its fields, how many of the following lines it takes, the lines pulled to find out)
    — fields None when it is no such record (the caller gives back every line pulled and
    reads `first` alone). Lines are pulled with `more` (None at the end of the file) and
    kept without their newline."""
    pulled: list[str] = []

    def lines() -> Iterator[str]:
        yield first + "\n"
        size = len(first)
        while len(pulled) < MAX_SPAN - 1 and size < _MAX_RECORD:
            line = more()
            if line is None:
                return
            pulled.append(line[:-1] if line[-1:] == "\n" else line)
            size += len(line)
            yield pulled[-1] + "\n"

    reader = csv.reader(lines(), delimiter=SEPARATOR, quotechar='"', strict=True)
    try:
        fields = next(reader)
    except (csv.Error, StopIteration):
        return None, 0, pulled
    taken = reader.line_num - 1
    if taken < 1 or len(fields) > width:
        return None, 0, pulled
    return fields, taken, pulled


def split_line(line: str) -> list[str]:
    """The fields of one line: plain split when there is no quote, csv rules otherwise."""
    if '"' not in line:
        return line.split(SEPARATOR)
    try:
        return next(csv.reader([line], delimiter=SEPARATOR, quotechar='"'))
    except (csv.Error, StopIteration):
        return line.split(SEPARATOR)


class CsvFile:
    """One CSV file: `open()` checks the header, `records()` streams the data lines.

    `columns` are the source's columns (others are ignored); `required` those whose
    absence refuses the file. Rows are keyed by lower-case column name; a column of
    `columns` absent from the file is absent from the row (reads as empty).
    """

    def __init__(self, path: Path, columns: Sequence[str], required: Sequence[str]) -> None:
        self.path = path
        self.name = path.name
        self.columns = tuple(c.lower() for c in columns)
        self.required = tuple(c.lower() for c in required)
        self.encoding: str | None = None
        self.size = 0
        self._binary: io.BufferedReader | None = None
        self._text: io.TextIOWrapper | None = None
        self._header: list[str] = []
        self._index: dict[str, int] = {}

    @property
    def bytes_done(self) -> int:
        try:
            return self._binary.tell() if self._binary and not self._binary.closed else self.size
        except (OSError, ValueError):
            return self.size

    def open(self) -> None:
        path = self.path
        if path.is_dir():
            raise InputError(f"{path}: un fichier est attendu, pas un dossier")
        try:
            self.size = path.stat().st_size
        except OSError as exc:
            raise unreadable(path, exc) from None
        self.encoding = detect_encoding(path)
        errors = _C1_ERRORS if self.encoding == CP1252 else "strict"
        try:
            self._binary = path.open("rb")
        except OSError as exc:
            raise unreadable(path, exc) from None
        self._text = io.TextIOWrapper(self._binary, encoding=self.encoding, errors=errors, newline=None)
        header_line = self._text.readline()
        if header_line.startswith("ï»¿"):  # a UTF-8 BOM on a file read as Windows-1252
            header_line = header_line[3:]
        if not header_line.strip():
            self.close()
            raise InputError(f"{self.name}: fichier vide ou sans ligne d'en-tête")
        self._header = [h.strip().lower() for h in split_line(header_line.rstrip("\n"))]
        index: dict[str, int] = {}
        for i, name in enumerate(self._header):
            if name in self.columns:
                if name in index:
                    self.close()
                    raise InputError(f"{self.name}: colonne {name!r} en double dans l'en-tête")
                index[name] = i
        missing = [c for c in self.required if c not in index]
        if missing:
            self.close()
            hint = " (séparateur ';' attendu)" if len(self._header) == 1 and "," in header_line else ""
            raise InputError(f"{self.name}: colonnes obligatoires absentes: {', '.join(missing)}{hint}")
        self._index = index
        self._data_start = self._text.tell()  # where the first data line starts (a text cookie)

    def reopen(self) -> CsvFile:
        """An independent reader of the same opened file, at its first data line (a worker
        process reads the file through its own handle: a shared one shares its offset)."""
        assert self._text is not None, "open() first"
        other = copy.copy(self)
        try:
            other._binary = self.path.open("rb")
        except OSError as exc:
            raise unreadable(self.path, exc) from None
        other._text = io.TextIOWrapper(other._binary, encoding=self._text.encoding, errors=self._text.errors,
                                       newline=None)
        other._text.seek(self._data_start)
        return other

    def records(self, skip: Callable[[int], bool] | None = None) -> Iterator[RawRecord | None]:
        """The records, in file order. With `skip`, record number i (from 0) for which
        `skip(i)` is true is yielded as None, without being split (a worker process
        counts the records of the chunks it leaves to the others)."""
        assert self._text is not None, "open() first"
        width = len(self._header)
        columns = tuple(self._index)
        pick = operator.itemgetter(*self._index.values()) if columns else (lambda _fields: ())
        single = len(columns) == 1
        name = self.name
        line_no = 1
        index = -1
        source = iter(self._text)
        back: list[str] = []  # lines pulled ahead and given back, last first

        def more() -> str | None:
            return back.pop() if back else next(source, None)

        while (line := more()) is not None:
            line_no += 1
            text = line[:-1] if line[-1:] == "\n" else line
            first_line = line_no
            if '"' in text:
                fields = None
                if text.count('"') % 2:  # a quoted field left open: may go on (see module doc)
                    fields, taken, pulled = _spanning(text, more, width)
                    back.extend(reversed(pulled[taken:] if fields is not None else pulled))
                    if fields is not None:
                        text = "\n".join([text, *pulled[:taken]])
                        line_no += taken
                if fields is None:
                    fields = split_line(text)
                if not any(f.strip() for f in fields):
                    continue  # blank, or only empty fields: not a record
            else:
                if not text.replace(SEPARATOR, "").strip():
                    continue  # blank, or only separators: not a record
                fields = None
            index += 1
            if skip is not None and skip(index):
                yield None
                continue
            if fields is None:
                fields = text.split(SEPARATOR)
            if len(fields) != width:
                if len(fields) < width:  # trailing fields left off: empty
                    fields += [""] * (width - len(fields))
                elif any(f.strip() for f in fields[width:]):
                    yield RawRecord(
                        name,
                        f"line {first_line}",
                        f"{name}:{first_line}",
                        text,
                        error=Rejection(
                            BAD_VALUE,
                            f"ligne de {len(fields)} champs, l'en-tête en a {width}",
                        ),
                    )
                    continue
            values = pick(fields)
            row = {columns[0]: values} if single else dict(zip(columns, values))
            yield RawRecord(name, f"line {first_line}", f"{name}:{first_line}", text, row)

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
        elif self._binary is not None:
            self._binary.close()
        self._text = self._binary = None
